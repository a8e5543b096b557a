import Foundation
import Testing

extension RealKeyringTests {
  /// `mailcred doctor`, `import` and `setup` on real files in a workspace HOME, then the real clients
  /// (msmtp, mbsync) run against the harness's Dovecot with the rewritten files.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (keyring and mail servers)"))
  struct ClientConfigTests {
    let clients = ClientTests()

    /// The workspace's own XDG directories, so doctor and import see only this test's files.
    func env(_ ws: ClientWorkspace) -> [String: String?] {
      var env = ws.environment
      env["XDG_CONFIG_HOME"] = ws.path + "/config"
      env["XDG_STATE_HOME"] = ws.path + "/state"
      return env
    }

    @discardableResult
    func mailcred(_ ws: ClientWorkspace, _ arguments: [String], stdin: String? = nil) throws -> Harness.Output {
      try Harness.mailcred(arguments, stdin: stdin, environment: env(ws))
    }

    func bytes(_ path: String) -> [UInt8] { Array((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()) }

    func mode(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1 }

    /// Every file under the workspace that holds the secret (the clients' Maildirs hold no secret).
    func filesHolding(_ secret: String, in ws: ClientWorkspace) -> [String] {
      var found: [String] = []
      let root = URL(fileURLWithPath: ws.path)
      guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey]) else { return [] }
      for case let url as URL in walker {
        let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
        guard values?.isRegularFile == true, values?.isSymbolicLink != true else { continue }
        if let data = try? Data(contentsOf: url), data.range(of: Data(secret.utf8)) != nil { found.append(url.path) }
      }
      return found
    }

    func msmtprc(account: String, user: String, password: String) -> String {
      """
      # mail for \(account)
      defaults
      tls on
      tls_trust_file \(Harness.caFile)
      logfile ~/msmtp.log

      account \(account)
      host 127.0.0.1
      port \(Harness.submissionPort)
      auth on
      user \(user)
      from \(user)
        password   "\(password)"

      account default : \(account)

      """
    }

    @Test func msmtpDoctorFindsThePlaintextPasswordImportMovesItMsmtpSendsAndUndoPutsItBack() throws {
      let ws = try ClientWorkspace("import-msmtp")
      let (user, password) = try clients.mailUser("import-msmtp")
      let account = Harness.uniqueName("imported")
      let rc = try ws.write(".msmtprc", msmtprc(account: account, user: user, password: password))
      defer { _ = try? mailcred(ws, ["remove", account, "--yes"]) }
      let original = bytes(rc)

      let before = try mailcred(ws, ["doctor", "msmtp"])
      #expect(before.status == 78, "doctor: \(before.stdout) \(before.stderr)")
      #expect(before.stdout.contains("\(rc):13: error: plaintext password in the file"))
      #expect(before.stdout.contains("    write instead:   passwordeval \"mailcred get \(account)\""))
      #expect(before.stdout.hasSuffix("doctor: 1 file, 1 account: 1 error, 0 warnings\n"), "\(before.stdout)")
      let json = try mailcred(ws, ["doctor", "--json", "msmtp"])
      #expect(json.status == 78)
      let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
      let findings = try #require(report["findings"] as? [[String: Any]])
      #expect(findings.count == 1)
      #expect(findings.first?["code"] as? String == "plaintext-secret")
      #expect(findings.first?["line"] as? Int == 13)
      #expect(findings.first?["fix"] as? String == "  passwordeval \"mailcred get \(account)\"")
      #expect((report["accounts"] as? [[String: Any]])?.first?["secret"] as? String == "plaintext")

      let dry = try mailcred(ws, ["import", "--dry-run", "msmtp"])
      #expect(dry.status == 0, "dry run: \(dry.stderr)")
      #expect(dry.stdout.contains("\(rc):13: would store \(account)"))
      #expect(bytes(rc) == original, "--dry-run changed the file")
      #expect(try mailcred(ws, ["show", account]).status == 67, "--dry-run stored something")

      // The live check finds the CA through the file's own tls_trust_file.
      let imported = try mailcred(ws, ["import", "msmtp", "--timeout", "10"])
      #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
      #expect(imported.stderr.contains("stored as \(account) (\(user) on 127.0.0.1:\(Harness.submissionPort))"))
      let after = bytes(rc)
      var expected = String(decoding: original, as: UTF8.self).components(separatedBy: "\n")
      expected[12] = "  passwordeval \"mailcred get \(account)\""
      #expect(String(decoding: after, as: UTF8.self) == expected.joined(separator: "\n"), "more than the password line changed")
      #expect(mode(rc) == 0o600)
      #expect(filesHolding(password, in: ws).isEmpty, "the secret is still in \(filesHolding(password, in: ws))")
      #expect(try ws.mailcred(["get", account]).stdout == password + "\n")
      #expect(try ws.mailcred(["show", account]).stdout.contains("ok"))

      let marker = Mail.marker("imported")
      let sent = try ws.run("/usr/bin/msmtp", ["--", "rcpt@example.test"], stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker))
      expectNoLeak(sent, "msmtp")
      #expect(sent.status == 0, "msmtp with the rewritten ~/.msmtprc: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil, "the message never reached the sink")

      let again = try mailcred(ws, ["import", "msmtp"])
      #expect(again.status == 0)
      #expect(again.stderr.contains("no plaintext secret to import"))
      #expect(bytes(rc) == after, "a second import changed the file")
      let clean = try mailcred(ws, ["doctor"])
      #expect(clean.status == 0, "doctor after import: \(clean.stdout)")
      #expect(clean.stdout == "doctor: 1 file, 1 account: 0 errors, 0 warnings\n")

      let undone = try mailcred(ws, ["import", "--undo"])
      #expect(undone.status == 0, "undo: \(undone.stderr)")
      #expect(bytes(rc) == original, "--undo did not restore the file byte for byte")
      #expect(mode(rc) == 0o600)
      #expect(try mailcred(ws, ["import", "--undo"]).stderr.contains("nothing to undo"))
      try FileManager.default.removeItem(atPath: rc)  // holds the secret again, by design
    }

    @Test func mbsyncImportRewritesPassToPassCmdAndMbsyncSyncs() throws {
      let ws = try ClientWorkspace("import-mbsync")
      let (user, password) = try clients.mailUser("import-mbsync")
      let account = Harness.uniqueName("box")
      try FileManager.default.createDirectory(atPath: ws.path + "/mail", withIntermediateDirectories: true)
      let text = """
        IMAPAccount \(account)
        Host localhost
        Port \(Harness.imapsPort)
        User \(user)
        Pass "\(password)"
        SSLType IMAPS
        CertificateFile \(Harness.caFile)
        AuthMechs PLAIN LOGIN

        IMAPStore \(account)-remote
        Account \(account)

        MaildirStore \(account)-local
        Path \(ws.path)/mail/
        Inbox \(ws.path)/mail/INBOX

        Channel \(account)
        Far :\(account)-remote:
        Near :\(account)-local:
        Patterns INBOX
        Create Near
        SyncState *

        """
      let rc = try ws.write(".mbsyncrc", text)
      defer { _ = try? mailcred(ws, ["remove", account, "--yes"]) }
      let imported = try mailcred(ws, ["import", rc, "--timeout", "10"])
      #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
      #expect(String(decoding: bytes(rc), as: UTF8.self) == text.replacingOccurrences(of: "Pass \"\(password)\"", with: "PassCmd \"mailcred get \(account)\""))
      #expect(filesHolding(password, in: ws).isEmpty)

      let marker = Mail.marker("mbsync-import")
      try Mail.deliverToDovecot(user: user, message: Mail.message(from: "sender@example.test", to: user, marker: marker))
      let synced = try ws.run("/usr/bin/mbsync", [account])
      #expect(synced.status == 0, "mbsync: \(synced.stdout) \(synced.stderr)")
      expectNoLeak(synced, "mbsync")
      let messages = ["new", "cur"].flatMap { sub -> [String] in
        let dir = ws.path + "/mail/INBOX/" + sub
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).map { (try? String(contentsOfFile: dir + "/" + $0, encoding: .utf8)) ?? "" }
      }
      #expect(messages.contains { $0.contains("Subject: \(marker)") }, "the message is not in the local Maildir")
      let doctor = try mailcred(ws, ["doctor", "mbsync"])
      #expect(doctor.status == 0, "doctor: \(doctor.stdout)")
    }

    @Test func aRejectedPasswordIsReportedAndStaysInTheFile() throws {
      let ws = try ClientWorkspace("import-rejected")
      let (user, _) = try clients.mailUser("import-rejected")
      let account = Harness.uniqueName("wrong")
      let wrong = "wrong-\(Harness.canary)"
      let rc = try ws.write(".msmtprc", msmtprc(account: account, user: user, password: wrong))
      defer {
        _ = try? mailcred(ws, ["remove", account, "--yes"])
        try? FileManager.default.removeItem(atPath: rc)  // still holds the secret, by design
      }
      let original = bytes(rc)
      let refused = try mailcred(ws, ["import", "--timeout", "10"])
      #expect(refused.status == 77, "import: \(refused.stderr)")
      #expect(refused.stderr.contains("\(rc):13: the server rejected this secret: not imported, left as it was"))
      #expect(bytes(rc) == original)
      #expect(try mailcred(ws, ["show", account]).status == 67)
    }

    // MARK: neomutt

    @Test(.enabled(if: ClientTests.neomuttInstalled, "neomutt is not installed"))
    func neomuttImportMovesSmtpPassFromASourcedFileAndNeomuttSendsWithTheBacktickLine() throws {
      let ws = try ClientWorkspace("import-neomutt")
      let (user, password) = try clients.mailUser("import-neomutt")
      let rc = try ws.write(".neomuttrc", """
        set from = "\(user)"
        set smtp_url = "smtp://127.0.0.1:\(Harness.submissionPort)/"
        set ssl_starttls = yes
        set ssl_force_tls = yes
        set ssl_ca_certificates_file = "\(Harness.caFile)"
        set record = ""
        source ~/.neomutt-secrets

        """)
      let secrets = try ws.write(".neomutt-secrets", "set smtp_user = \"\(user)\"  smtp_pass = \"\(password)\" # keep private\n")
      let main = bytes(rc)
      defer { _ = try? mailcred(ws, ["remove", user, "--yes"]) }

      let doctor = try mailcred(ws, ["doctor", "neomutt"])
      #expect(doctor.status == 78)
      #expect(doctor.stdout.contains("\(secrets):1: error: plaintext smtp_pass in the file"), "\(doctor.stdout)")

      let imported = try mailcred(ws, ["import", "neomutt", "--timeout", "10"])
      #expect(imported.status == 0, "import: \(imported.stderr)")
      #expect(bytes(rc) == main, "the main file holds no secret and must not change")
      #expect(String(decoding: bytes(secrets), as: UTF8.self) == "set smtp_user = \"\(user)\"  smtp_pass = \"`mailcred get \(user)`\" # keep private\n")
      #expect(filesHolding(password, in: ws).isEmpty)

      let log = Mail.DovecotLog()
      let marker = Mail.marker("neomutt-import")
      let sent = try ws.run("/usr/bin/neomutt", ["-n", "-s", marker, "--", "rcpt@example.test"], stdin: "body of \(marker)\n")
      #expect(sent.status == 0, "neomutt: \(sent.stdout) \(sent.stderr)")
      expectNoLeak(sent, "neomutt")
      #expect(Mail.delivered(marker) != nil, "the message never reached the sink")
      #expect(log.newLines().contains("Login: user=<\(user)>"))
      #expect(try mailcred(ws, ["doctor", "neomutt"]).status == 0)
      #expect(try mailcred(ws, ["import", "--undo"]).status == 0)
      #expect(String(decoding: bytes(secrets), as: UTF8.self).contains("smtp_pass = \"\(password)\" # keep private"))
      try FileManager.default.removeItem(atPath: secrets)
    }

    // MARK: git send-email

    @Test func gitSendEmailImportMovesSmtpPassToTheHelperAndThePatchArrives() throws {
      let ws = try ClientWorkspace("import-git")
      let (user, password) = try clients.mailUser("import-git")
      let gitconfig = try ws.write(".gitconfig", """
        [sendemail]
        \tsmtpServer = 127.0.0.1
        \tsmtpServerPort = \(Harness.submissionPort)
        \tsmtpEncryption = tls
        \tsmtpUser = \(user)
        \tsmtpPass = "\(password)"
        \tsmtpSSLCertPath = \(Harness.caFile)

        """)
      let original = bytes(gitconfig)
      defer { _ = try? mailcred(ws, ["remove", user, "--yes"]) }
      let doctor = try mailcred(ws, ["doctor", "git"])
      #expect(doctor.status == 78)
      #expect(doctor.stdout.contains("\(gitconfig):6: error: plaintext smtpPass in the file"), "\(doctor.stdout)")

      let imported = try mailcred(ws, ["import", "git", "--timeout", "10"])
      #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
      #expect(filesHolding(password, in: ws).isEmpty)
      let text = String(decoding: bytes(gitconfig), as: UTF8.self)
      #expect(text.contains("\t# smtpPass: in mailcred now (git send-email asks credential.helper = mailcred)\n"))
      #expect(text.hasSuffix("[credential \"smtp://127.0.0.1:\(Harness.submissionPort)\"]\n\thelper = mailcred\n"), "\(text)")

      let marker = Mail.marker("git-import")
      let file = try clients.patch(ws, subject: marker)
      let sent = try clients.sendEmail(ws, patch: file, from: user)
      #expect(sent.status == 0, "git send-email: \(sent.stdout) \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil, "the patch never reached the sink")

      let again = try mailcred(ws, ["import", "git"])
      #expect(again.status == 0)
      #expect(String(decoding: bytes(gitconfig), as: UTF8.self) == text, "a second import changed .gitconfig")
      let clean = try mailcred(ws, ["doctor", "git"])
      #expect(clean.status == 0, "doctor: \(clean.stdout)")
      // Undo takes back the comment and the helper section: the file is as the user wrote it.
      let undone = try mailcred(ws, ["import", "--undo", "git"])
      #expect(undone.status == 0, "undo: \(undone.stderr)")
      #expect(bytes(gitconfig) == original, "--undo did not restore .gitconfig byte for byte")
      try FileManager.default.removeItem(atPath: gitconfig)  // holds the secret again, by design
    }

    // MARK: bad input: one line, nothing lost

    @Test func badFilesGetOneLineAndStayIntact() throws {
      let ws = try ClientWorkspace("import-bad")
      let secret = "bad-\(Harness.canary)"
      let junk = try ws.write("junk-msmtprc", "account a\nhost h\n")
      try Data([0x61, 0x00, 0xff, 0x0a] + Array(secret.utf8)).write(to: URL(fileURLWithPath: junk))
      let big = ws.path + "/big-msmtprc"
      try Data(repeating: 0x23, count: 10 << 20).write(to: URL(fileURLWithPath: big))
      let unreadable = try ws.write("unreadable-msmtprc", "account a\nhost h\nuser u\npassword \(secret)\n")
      chmod(unreadable, 0o000)
      defer { for path in [junk, big, unreadable] { try? FileManager.default.removeItem(atPath: path) } }
      for (path, message) in [(junk, "contains NUL bytes"), (big, "larger than 1 MiB"), (unreadable, "cannot read")] {
        let before = bytes(path)
        let imported = try path == unreadable ? asUnprivileged(ws, ["import", "--no-check", path]) : mailcred(ws, ["import", "--no-check", path])
        #expect(imported.status == 78, "\(path): \(imported.stderr)")
        #expect(imported.stderr.contains("mailcred: \(path): \(message)"), "\(imported.stderr)")
        #expect(imported.stderr.split(separator: "\n").count == 2, "one line and the summary: \(imported.stderr)")
        let doctor = try path == unreadable ? asUnprivileged(ws, ["doctor", path]) : mailcred(ws, ["doctor", path])
        #expect(doctor.status == 78)
        #expect(doctor.stdout.contains("\(path): error: \(message)"), "\(doctor.stdout)")
        #expect(bytes(path) == before)
      }
    }

    /// Root reads every file: the unreadable case runs mailcred as nobody then.
    func asUnprivileged(_ ws: ClientWorkspace, _ arguments: [String]) throws -> Harness.Output {
      guard getuid() == 0 else { return try mailcred(ws, arguments) }
      let output = try Harness.run(
        "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", try #require(Harness.binary)] + arguments,
        environment: env(ws))
      expectNoLeak(output, "mailcred \(arguments[0])")
      return output
    }

    @Test func anUnterminatedMbsyncQuoteIsAFindingAndAReadOnlyDirectoryChangesNothing() throws {
      let ws = try ClientWorkspace("import-readonly")
      let account = Harness.uniqueName("ro")
      let secret = "ro-\(Harness.canary)"
      let broken = try ws.write("broken/mbsyncrc", "IMAPAccount \(account)\nHost localhost\nUser u\nPass \"unclosed\nSSLType IMAPS\n")
      let doctor = try mailcred(ws, ["doctor", broken])
      #expect(doctor.status == 78)
      #expect(doctor.stdout.contains("\(broken):4: error: missing closing quote (mbsync refuses this line)"))

      let rc = try ws.write("ro/msmtprc", "account \(account)\nhost 127.0.0.1\nport \(Harness.submissionPort)\ntls on\nuser u@example.test\npassword \(secret)\n")
      // Root writes into a mode-500 directory anyway: make it immutable instead.
      let asRoot = getuid() == 0
      if asRoot { #expect(try Harness.run("/usr/bin/chattr", ["+i", ws.path + "/ro"]).status == 0) } else { chmod(ws.path + "/ro", 0o500) }
      defer {
        if asRoot { _ = try? Harness.run("/usr/bin/chattr", ["-i", ws.path + "/ro"]) } else { chmod(ws.path + "/ro", 0o700) }
        _ = try? mailcred(ws, ["remove", account, "--yes"])
        try? FileManager.default.removeItem(atPath: rc)
      }
      let before = bytes(rc)
      let imported = try mailcred(ws, ["import", "--no-check", rc])
      #expect(imported.status == 78, "\(imported.stderr)")
      #expect(imported.stderr.contains("cannot write beside it"))
      #expect(bytes(rc) == before)
      #expect(try mailcred(ws, ["show", account]).status == 67, "stored although the file could not be rewritten")
    }

    @Test func aSymlinkedConfigIsRewrittenThroughItsLinkAndAConfigAlreadyOnMailcredIsLeftAlone() throws {
      let ws = try ClientWorkspace("import-symlink")
      let (user, password) = try clients.mailUser("import-symlink")
      let account = Harness.uniqueName("linked")
      let target = try ws.write("dotfiles/msmtprc", msmtprc(account: account, user: user, password: password))
      try FileManager.default.createSymbolicLink(atPath: ws.path + "/.msmtprc", withDestinationPath: "dotfiles/msmtprc")
      defer { _ = try? mailcred(ws, ["remove", account, "--yes"]) }
      let imported = try mailcred(ws, ["import", "--no-check"])
      #expect(imported.status == 0, "\(imported.stderr)")
      let link = try FileManager.default.destinationOfSymbolicLink(atPath: ws.path + "/.msmtprc")
      #expect(link == "dotfiles/msmtprc", "the symlink was replaced")
      #expect(String(decoding: bytes(target), as: UTF8.self).contains("passwordeval \"mailcred get \(account)\""))
      #expect(filesHolding(password, in: ws).isEmpty)
      let unchanged = bytes(target)
      let again = try mailcred(ws, ["import", "--no-check", ws.path + "/.msmtprc"])
      #expect(again.status == 0)
      #expect(bytes(target) == unchanged)
      #expect(try mailcred(ws, ["doctor", target]).status == 0)
    }

    // MARK: setup

    @Test func setupPrintsAWorkingMsmtpBlockAndAppendsItOnce() throws {
      let ws = try ClientWorkspace("setup-msmtp")
      let (user, password) = try clients.mailUser("setup-msmtp")
      let account = Harness.uniqueName("setup")
      try clients.add(ws, account, user: user, secret: password, smtp: .submissionsImplicitTLS)
      defer { _ = try? mailcred(ws, ["remove", account, "--yes"]) }
      let printed = try mailcred(ws, ["setup", "msmtp", account, "--ca-file", Harness.caFile])
      #expect(printed.status == 0)
      #expect(printed.stdout == """
        account \(account)
        host 127.0.0.1
        port \(Harness.submissionsPort)
        tls on
        tls_starttls off
        tls_trust_file \(Harness.caFile)
        auth on
        user \(user)
        from \(user)
        passwordeval "mailcred get \(account)"

        """)
      let rc = ws.path + "/.msmtprc"
      #expect(try mailcred(ws, ["setup", "msmtp", account, "--ca-file", Harness.caFile, "--append", rc]).status == 0)
      #expect(mode(rc) == 0o600)
      let twice = try mailcred(ws, ["setup", "msmtp", account, "--append", rc])
      #expect(twice.status == 78)
      #expect(twice.stderr.contains("already has `account \(account)`"))
      let marker = Mail.marker("setup")
      let sent = try ws.run("/usr/bin/msmtp", ["-a", account, "--", "rcpt@example.test"], stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker))
      #expect(sent.status == 0, "msmtp with the setup block: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil)
      #expect(try mailcred(ws, ["doctor", rc]).status == 0)
    }
  }
}

import Foundation
import Testing

extension RealKeyringTests {
  /// The real mail clients take their secrets from mailcred, against the harness's Dovecot: msmtp
  /// (`passwordeval`, and its own keyring lookup with no password line at all), git (`git credential`,
  /// `git send-email` through the credential helper), mbsync (`PassCmd`) and neomutt (backticks). A sent
  /// message counts only once it is in the relay sink's Maildir; a synced one once it is in the local Maildir.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (keyring and mail servers)"))
  struct ClientTests {
    /// A fresh mail user on Dovecot with a fresh password (set-password waits out Dovecot's 1 s cache).
    func mailUser(_ prefix: String) throws -> (user: String, password: String) {
      let user = Harness.uniqueName(prefix) + "@example.test"
      let password = "pw-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      try Harness.setPassword(user: user, password: password)
      return (user, password)
    }

    enum SMTPPort: String, CaseIterable, CustomTestStringConvertible {
      case submissionSTARTTLS, submissionsImplicitTLS
      var port: Int { self == .submissionSTARTTLS ? Harness.submissionPort : Harness.submissionsPort }
      var security: String { self == .submissionSTARTTLS ? "starttls" : "tls" }
      var testDescription: String { rawValue }
    }

    func add(_ ws: ClientWorkspace, _ account: String, user: String, secret: String, smtp: SMTPPort = .submissionSTARTTLS, extra: [String] = ["--no-check"]) throws {
      let added = try ws.mailcred(
        ["add", account, "--user", user, "--smtp", "127.0.0.1:\(smtp.port)", "--smtp-security", smtp.security,
         "--password-stdin", "--ca-file", Harness.caFile] + extra,
        stdin: secret + "\n")
      #expect(added.status == 0, "add: \(added.stderr)")
      expectNoLeak(added, "mailcred add")
    }

    // MARK: msmtp

    /// The msmtprc a user writes (DESIGN.md: `passwordeval "mailcred get ACCOUNT"`, or no password line).
    func msmtprc(account: String, user: String, smtp: SMTPPort = .submissionSTARTTLS, passwordeval: Bool) -> String {
      """
      defaults
      tls on
      tls_trust_file \(Harness.caFile)

      account \(account)
      host 127.0.0.1
      port \(smtp.port)
      tls_starttls \(smtp == .submissionSTARTTLS ? "on" : "off")
      auth on
      user \(user)
      from \(user)
      \(passwordeval ? "passwordeval \"mailcred get \(account)\"" : "# no password line: msmtp asks the keyring for host, service=smtp, user")

      """
    }

    func msmtp(_ ws: ClientWorkspace, config: String, account: String, from: String, marker: String) throws -> Harness.Output {
      let rc = try ws.write("msmtprc-\(marker)", config)
      let sent = try ws.run(
        "/usr/bin/msmtp", ["-C", rc, "-a", account, "--", "rcpt@example.test"],
        stdin: Mail.message(from: from, to: "rcpt@example.test", marker: marker))
      expectNoLeak(sent, "msmtp")
      return sent
    }

    @Test(arguments: SMTPPort.allCases)
    func msmtpWithPasswordevalMailcredGetSendsThroughDovecotAndTheMessageArrives(smtp: SMTPPort) throws {
      let ws = try ClientWorkspace("msmtp-eval")
      let (user, password) = try mailUser("msmtp-eval")
      let account = Harness.uniqueName("work")
      try add(ws, account, user: user, secret: password, smtp: smtp)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }

      let marker = Mail.marker("eval")
      let sent = try msmtp(ws, config: msmtprc(account: account, user: user, smtp: smtp, passwordeval: true), account: account, from: user, marker: marker)
      #expect(sent.status == 0, "msmtp: \(sent.stderr)")
      let arrived = try #require(Mail.delivered(marker), "the message never reached the sink")
      #expect(arrived.contains("From: \(user)"))
      #expect(!arrived.contains(Harness.canary))
    }

    @Test func msmtpWithNoPasswordLineFindsTheCredentialThroughItsOwnKeyringLookup() throws {
      let ws = try ClientWorkspace("msmtp-native")
      let (user, password) = try mailUser("msmtp-native")
      let account = Harness.uniqueName("native")
      try add(ws, account, user: user, secret: password)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }

      let marker = Mail.marker("native")
      let sent = try msmtp(ws, config: msmtprc(account: account, user: user, passwordeval: false), account: account, from: user, marker: marker)
      #expect(sent.status == 0, "msmtp: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil, "the message never reached the sink")
    }

    @Test func msmtpOwnLookupIgnoresACredentialErasedByGitUntilMailcredRestoreBringsItBack() throws {
      let ws = try ClientWorkspace("msmtp-erased")
      let (user, password) = try mailUser("msmtp-erased")
      let account = Harness.uniqueName("erased")
      try add(ws, account, user: user, secret: password)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      let config = msmtprc(account: account, user: user, passwordeval: false)

      // git erases a credential after a failed login; msmtp must not keep sending it from the keyring.
      let erase = try ws.mailcred(
        ["credential-helper", "erase"], stdin: "protocol=smtp\nhost=127.0.0.1:\(Harness.submissionPort)\nusername=\(user)\n\n")
      #expect(erase.status == 0)
      let log = Mail.DovecotLog()
      let refused = try msmtp(ws, config: config, account: account, from: user, marker: Mail.marker("erased"))
      #expect(refused.status == 69, "msmtp: \(refused.stderr)")
      #expect(refused.stderr.contains("needs a password"))
      #expect(!log.newLines().contains("user=<\(user)>"), "msmtp authenticated with the erased secret")

      #expect(try ws.mailcred(["restore", account]).status == 0)
      let marker = Mail.marker("restored")
      let sent = try msmtp(ws, config: config, account: account, from: user, marker: marker)
      #expect(sent.status == 0, "msmtp: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil)
    }

    enum Replacement: String, CaseIterable, CustomTestStringConvertible {
      case rotate, addReplace
      var testDescription: String { self == .rotate ? "mailcred rotate (live check)" : "mailcred add --replace --no-check" }
    }

    @Test(arguments: Replacement.allCases)
    func afterTheServerPasswordChangesAndMailcredGetsTheNewSecretTheNextMsmtpSendUsesIt(how: Replacement) throws {
      let ws = try ClientWorkspace("msmtp-rotate")
      let (user, old) = try mailUser("msmtp-rotate")
      let account = Harness.uniqueName("rotated")
      try add(ws, account, user: user, secret: old, extra: ["--timeout", "10"])  // live-checked: ok
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      let eval = msmtprc(account: account, user: user, passwordeval: true)
      let first = Mail.marker("before")
      #expect(try msmtp(ws, config: eval, account: account, from: user, marker: first).status == 0)
      #expect(Mail.delivered(first) != nil)

      // The provider changes the password: the stored one is refused now.
      let new = "new-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      try Harness.setPassword(user: user, password: new)
      let stale = try msmtp(ws, config: eval, account: account, from: user, marker: Mail.marker("stale"))
      #expect(stale.status != 0)
      #expect(stale.stderr.contains("535") || stale.stderr.contains("authentication failed"), "\(stale.stderr)")

      let replaced: Harness.Output
      switch how {
      case .rotate:
        replaced = try ws.mailcred(["rotate", account, "--password-stdin", "--ca-file", Harness.caFile, "--timeout", "10"], stdin: new + "\n")
      case .addReplace:
        replaced = try ws.mailcred(
          ["add", account, "--replace", "--no-check", "--user", user, "--smtp", "127.0.0.1:\(Harness.submissionPort)", "--password-stdin"],
          stdin: new + "\n")
      }
      #expect(replaced.status == 0, "\(how): \(replaced.stderr)")
      expectNoLeak(replaced, "\(how)")

      let viaEval = Mail.marker("after-eval")
      let sent = try msmtp(ws, config: eval, account: account, from: user, marker: viaEval)
      #expect(sent.status == 0, "msmtp (passwordeval): \(sent.stderr)")
      #expect(Mail.delivered(viaEval) != nil)
      let viaKeyring = Mail.marker("after-native")
      let native = try msmtp(ws, config: msmtprc(account: account, user: user, passwordeval: false), account: account, from: user, marker: viaKeyring)
      #expect(native.status == 0, "msmtp (own lookup): \(native.stderr)")
      #expect(Mail.delivered(viaKeyring) != nil)
    }

    @Test func msmtpOwnLookupKeepsTheCurrentSecretWhileARotationIsPending() throws {
      let ws = try ClientWorkspace("msmtp-pending")
      let (user, password) = try mailUser("msmtp-pending")
      let account = Harness.uniqueName("pending")
      try add(ws, account, user: user, secret: password)
      defer {
        _ = try? ws.mailcred(["rotate", account, "--abort"])
        _ = try? ws.mailcred(["remove", account, "--yes"])
      }

      // A rotation stopped after storing the new (not yet verified, not yet known to the server) secret as
      // `pending` (debug builds pause there on request): msmtp's lookup must still get the current one.
      let rotation = Process()
      rotation.executableURL = URL(fileURLWithPath: ws.path + "/bin/mailcred")
      rotation.arguments = ["rotate", account, "--password-stdin", "--no-check"]
      var env = Harness.environment
      env["MAILCRED_TEST_ROTATE_PAUSE"] = "2"
      env["MAILCRED_TEST_CANARY"] = nil
      rotation.environment = env
      let input = Pipe()
      let errors = Pipe()
      rotation.standardInput = input
      rotation.standardOutput = FileHandle.nullDevice
      rotation.standardError = errors
      try rotation.run()
      input.fileHandleForWriting.write(Data("unverified-\(Harness.canary)\n".utf8))
      try input.fileHandleForWriting.close()
      defer { if rotation.isRunning { rotation.terminate() }; rotation.waitUntilExit() }
      var paused = false
      let deadline = Date().addingTimeInterval(20)
      var seen = Data()
      while !paused && Date() < deadline && rotation.isRunning {
        seen += errors.fileHandleForReading.availableData
        paused = String(decoding: seen, as: UTF8.self).contains("test pause at rotation step 2")
      }
      try #require(paused, "the rotation did not pause (a release build has no pause hook): \(String(decoding: seen, as: UTF8.self))")
      let states = try ws.mailcred(["list", "--json"]).stdout
      #expect(states.contains("pending"), "no pending item while paused")

      let marker = Mail.marker("pending")
      let sent = try msmtp(ws, config: msmtprc(account: account, user: user, passwordeval: false), account: account, from: user, marker: marker)
      #expect(sent.status == 0, "msmtp used the pending secret: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil)
    }

    @Test func msmtpWithPasswordevalOfAMissingAccountFailsBeforeAnyAuthAttempt() throws {
      let ws = try ClientWorkspace("msmtp-missing")
      let (user, _) = try mailUser("msmtp-missing")
      let account = Harness.uniqueName("never-added")
      let log = Mail.DovecotLog()
      let marker = Mail.marker("missing")
      let failed = try msmtp(ws, config: msmtprc(account: account, user: user, passwordeval: true), account: account, from: user, marker: marker)
      // `mailcred get` printed nothing: msmtp stops at the empty output (EX_CONFIG) instead of trying an
      // empty password. Its own reason and mailcred's both reach the user.
      #expect(failed.status == 78, "msmtp: \(failed.status) \(failed.stderr)")
      #expect(failed.stderr.contains("cannot read output of 'mailcred get \(account)'"))
      #expect(failed.stderr.contains("mailcred: no such account '\(account)'"))
      #expect(!log.newLines().contains("user=<\(user)>"), "msmtp attempted AUTH")
      #expect(Mail.delivered(marker, within: 0.5) == nil)
    }

    // MARK: git

    enum HelperSpelling: String, CaseIterable, CustomTestStringConvertible {
      case name, absolutePath, shellCommand
      var testDescription: String {
        switch self {
        case .name: return "helper = mailcred (git-credential-mailcred on PATH)"
        case .absolutePath: return "helper = /path/to/git-credential-mailcred"
        case .shellCommand: return "helper = !mailcred credential-helper"
        }
      }
      func value(_ ws: ClientWorkspace) -> String {
        switch self {
        case .name: return "mailcred"
        case .absolutePath: return ws.path + "/bin/git-credential-mailcred"
        case .shellCommand: return "!mailcred credential-helper"
        }
      }
    }

    func git(_ ws: ClientWorkspace, _ arguments: [String], helper: String? = nil, stdin: String? = nil, in directory: String? = nil) throws -> Harness.Output {
      try ws.run("/usr/bin/git", (helper.map { ["-c", "credential.helper=\($0)"] } ?? []) + arguments, stdin: stdin, in: directory)
    }

    func lines(_ text: String) -> [String: String] {
      var fields: [String: String] = [:]
      for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
      }
      return fields
    }

    @Test(arguments: HelperSpelling.allCases)
    func gitCredentialFillGetsTheStoredPasswordForSmtpHostPortAndUser(spelling: HelperSpelling) throws {
      let ws = try ClientWorkspace("git-fill")
      let user = Harness.uniqueName("fill") + "@example.test"
      let secret = "fill-\(Harness.canary)"
      let account = Harness.uniqueName("fill")
      try add(ws, account, user: user, secret: secret)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }

      let filled = try git(
        ws, ["credential", "fill"], helper: spelling.value(ws),
        stdin: "protocol=smtp\nhost=127.0.0.1:\(Harness.submissionPort)\nusername=\(user)\n\n")
      #expect(filled.status == 0, "git credential fill: \(filled.stderr)")
      #expect(lines(filled.stdout) == ["protocol": "smtp", "host": "127.0.0.1:\(Harness.submissionPort)", "username": user, "password": secret])
      #expect(filled.stderr.isEmpty)
      // With no username git takes the one the helper answers.
      let anyUser = try git(ws, ["credential", "fill"], helper: spelling.value(ws), stdin: "protocol=smtp\nhost=127.0.0.1:\(Harness.submissionPort)\n\n")
      #expect(lines(anyUser.stdout)["username"] == user)
      #expect(lines(anyUser.stdout)["password"] == secret)
    }

    @Test func gitCredentialApproveStoresAndRejectErasesRecoverablyThroughTheHelper() throws {
      let ws = try ClientWorkspace("git-approve")
      let host = "127.0.0.1:\(Harness.submissionPort)"
      let user = Harness.uniqueName("approve") + "@example.test"
      let account = Harness.uniqueName("approve")
      try add(ws, account, user: user, secret: "old-\(Harness.canary)")
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }

      // approve = store: a new password for a known login replaces the secret (git saw it work).
      let approved = try git(ws, ["credential", "approve"], helper: "mailcred", stdin: "protocol=smtp\nhost=\(host)\nusername=\(user)\npassword=new-\(Harness.canary)\n\n")
      #expect(approved.status == 0)
      expectNoLeak(approved, "git credential approve")
      #expect(approved.stderr.isEmpty, "the helper is quiet on success: \(approved.stderr)")
      #expect(try ws.mailcred(["get", account]).stdout == "new-\(Harness.canary)\n")

      // approve for a login mailcred has never seen creates a credential named USER@HOST.
      let stranger = Harness.uniqueName("stranger") + "@example.test"
      let created = try git(ws, ["credential", "approve"], helper: "mailcred", stdin: "protocol=smtp\nhost=\(host)\nusername=\(stranger)\npassword=made-\(Harness.canary)\n\n")
      #expect(created.status == 0)
      #expect(created.stderr.isEmpty, "the helper is quiet on success: \(created.stderr)")
      defer { _ = try? ws.mailcred(["remove", "\(stranger)@127.0.0.1", "--yes"]) }
      #expect(try ws.mailcred(["get", "\(stranger)@127.0.0.1"]).stdout == "made-\(Harness.canary)\n")
      #expect(try ws.mailcred(["show", "\(stranger)@127.0.0.1"]).stdout.contains("127.0.0.1:\(Harness.submissionPort)"))

      // reject = erase: a different password leaves the credential alone; the stored one erases it, and
      // the erased credential is listed and restorable.
      let otherPassword = try git(ws, ["credential", "reject"], helper: "mailcred", stdin: "protocol=smtp\nhost=\(host)\nusername=\(user)\npassword=not-it\n\n")
      #expect(otherPassword.status == 0)
      #expect(try ws.mailcred(["get", account]).status == 0)
      let rejected = try git(ws, ["credential", "reject"], helper: "mailcred", stdin: "protocol=smtp\nhost=\(host)\nusername=\(user)\npassword=new-\(Harness.canary)\n\n")
      #expect(rejected.status == 0)
      expectNoLeak(rejected, "git credential reject")
      let gone = try ws.mailcred(["get", account])
      #expect(gone.status == 67 && gone.stdout.isEmpty)
      #expect(gone.stderr.contains("mailcred restore \(account)"))
      #expect(try ws.mailcred(["list"]).stdout.contains("`mailcred restore \(account)`"))
      let miss = try git(ws, ["credential", "fill"], helper: "mailcred", stdin: "protocol=smtp\nhost=\(host)\nusername=\(user)\n\n")
      #expect(miss.status != 0, "git found a password after reject")
      #expect(!miss.stdout.contains(Harness.canary))
      #expect(try ws.mailcred(["restore", account]).status == 0)
      #expect(try ws.mailcred(["get", account]).stdout == "new-\(Harness.canary)\n")
    }

    /// A repository with one commit and its patch, as a contributor would have before `git send-email`.
    func patch(_ ws: ClientWorkspace, subject: String) throws -> String {
      let repo = ws.path + "/repo"
      try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
      #expect(try git(ws, ["init", "-q"], in: repo).status == 0)
      try ws.write("repo/hello.txt", "hello\n")
      #expect(try git(ws, ["add", "hello.txt"], in: repo).status == 0)
      #expect(try git(ws, ["commit", "-q", "-m", subject], in: repo).status == 0)
      let made = try git(ws, ["format-patch", "-1", "-o", ws.path + "/patches"], in: repo)
      #expect(made.status == 0, "format-patch: \(made.stderr)")
      return made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// ~/.gitconfig as a user writes it for git send-email through mailcred.
    func gitconfig(user: String, smtp: SMTPPort) -> String {
      """
      [credential]
      \thelper = mailcred
      [sendemail]
      \tsmtpServer = 127.0.0.1
      \tsmtpServerPort = \(smtp.port)
      \tsmtpEncryption = \(smtp == .submissionSTARTTLS ? "tls" : "ssl")
      \tsmtpUser = \(user)
      \tsmtpSSLCertPath = \(Harness.caFile)

      """
    }

    func sendEmail(_ ws: ClientWorkspace, patch: String, from: String) throws -> Harness.Output {
      let sent = try git(
        ws, ["send-email", "--confirm=never", "--suppress-cc=all", "--to=rcpt@example.test", "--from=\(from)", patch],
        in: ws.path + "/repo")
      expectNoLeak(sent, "git send-email")
      return sent
    }

    @Test(arguments: SMTPPort.allCases)
    func gitSendEmailAuthenticatesThroughTheHelperAndThePatchArrives(smtp: SMTPPort) throws {
      let ws = try ClientWorkspace("send-email")
      let (user, password) = try mailUser("send-email")
      let account = Harness.uniqueName("patches")
      try add(ws, account, user: user, secret: password, smtp: smtp)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      try ws.write(".gitconfig", gitconfig(user: user, smtp: smtp))
      let marker = Mail.marker("patch")
      let file = try patch(ws, subject: marker)

      let sent = try sendEmail(ws, patch: file, from: user)
      #expect(sent.status == 0, "git send-email: \(sent.stdout) \(sent.stderr)")
      let arrived = try #require(Mail.delivered(marker), "the patch never reached the sink")
      #expect(arrived.contains("Subject: [PATCH] \(marker)"))
      #expect(arrived.contains("+hello"))
      // git approved the working password: the credential is unchanged and still current.
      #expect(try ws.mailcred(["get", account]).stdout == password + "\n")
    }

    @Test func gitSendEmailWithAWrongStoredPasswordFailsErasesItAndRestoreBringsItBack() throws {
      let ws = try ClientWorkspace("send-email-wrong")
      let (user, password) = try mailUser("send-email-wrong")
      let account = Harness.uniqueName("wrong")
      let wrong = "wrong-\(Harness.canary)"
      try add(ws, account, user: user, secret: wrong)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      try ws.write(".gitconfig", gitconfig(user: user, smtp: .submissionSTARTTLS))
      let marker = Mail.marker("refused")
      let file = try patch(ws, subject: marker)

      let refused = try sendEmail(ws, patch: file, from: user)
      #expect(refused.status != 0)
      #expect(refused.stderr.contains("5.7.8 Authentication failed"), "\(refused.stderr)")
      #expect(!refused.stderr.contains("mailcred"), "the helper's erase is quiet; list says it: \(refused.stderr)")
      #expect(Mail.delivered(marker, within: 0.5) == nil)

      let got = try ws.mailcred(["get", account])
      #expect(got.status == 67 && got.stdout.isEmpty)
      #expect(try ws.mailcred(["list"]).stdout.contains("erased at git's request on "))
      #expect(try ws.mailcred(["list"]).stdout.contains("`mailcred restore \(account)`"))

      // The user brings it back, then puts the right password in with a verified rotation; sending works.
      let restored = try ws.mailcred(["restore", account])
      #expect(restored.status == 0, "restore: \(restored.stderr)")
      #expect(try ws.mailcred(["get", account]).stdout == wrong + "\n")
      let rotated = try ws.mailcred(["rotate", account, "--password-stdin", "--ca-file", Harness.caFile, "--timeout", "10"], stdin: password + "\n")
      #expect(rotated.status == 0, "rotate: \(rotated.stderr)")
      let sent = try sendEmail(ws, patch: file, from: user)
      #expect(sent.status == 0, "git send-email: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil)
    }

    // MARK: mbsync

    enum IMAPPort: String, CaseIterable, CustomTestStringConvertible {
      case imaps, imapSTARTTLS
      var port: Int { self == .imaps ? Harness.imapsPort : Harness.imapPort }
      var sslType: String { self == .imaps ? "IMAPS" : "STARTTLS" }
      var security: String { self == .imaps ? "tls" : "starttls" }
      var testDescription: String { rawValue }
    }

    @Test(arguments: IMAPPort.allCases)
    func mbsyncWithPassCmdMailcredGetSyncsDovecotsInboxIntoALocalMaildir(imap: IMAPPort) throws {
      let ws = try ClientWorkspace("mbsync")
      let (user, password) = try mailUser("mbsync")
      let account = Harness.uniqueName("inbox")
      let added = try ws.mailcred(
        ["add", account, "--user", user, "--imap", "localhost:\(imap.port)", "--imap-security", imap.security,
         "--password-stdin", "--ca-file", Harness.caFile, "--timeout", "10"],
        stdin: password + "\n")
      #expect(added.status == 0, "add (live IMAP check): \(added.stderr)")
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      let marker = Mail.marker("mbsync")
      try Mail.deliverToDovecot(user: user, message: Mail.message(from: "sender@example.test", to: user, marker: marker))

      // mbsync 1.4 checks only DNS names in the certificate: connect by name (the test CA's server
      // certificate has DNS:localhost and DNS:127.0.0.1).
      // AuthMechs PLAIN: with Cyrus SASL's XOAUTH2 plugin installed (the OAuth2 tests need it), mbsync's
      // default `*` lets SASL pick XOAUTH2 and send the password as a bearer token, which then hangs.
      let rc = try ws.write(
        "mbsyncrc",
        """
        IMAPAccount \(account)
        Host localhost
        Port \(imap.port)
        User \(user)
        PassCmd "mailcred get \(account)"
        AuthMechs PLAIN
        SSLType \(imap.sslType)
        CertificateFile \(Harness.caFile)

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

        """)
      try FileManager.default.createDirectory(atPath: ws.path + "/mail", withIntermediateDirectories: true)
      let synced = try ws.run("/usr/bin/mbsync", ["-c", rc, account])
      #expect(synced.status == 0, "mbsync: \(synced.stdout) \(synced.stderr)")
      expectNoLeak(synced, "mbsync")
      var syncedMessages: [String] = []
      for sub in ["new", "cur"] {
        let dir = ws.path + "/mail/INBOX/" + sub
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
          syncedMessages.append((try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? "")
        }
      }
      #expect(syncedMessages.contains { $0.contains("Subject: \(marker)") }, "the message is not in the local Maildir")
    }

    // MARK: neomutt

    static let neomuttInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/neomutt")

    @Test(.enabled(if: neomuttInstalled, "neomutt is not installed"))
    func neomuttSmtpPassBacktickMailcredGetSendsThroughDovecot() throws {
      let ws = try ClientWorkspace("neomutt")
      let (user, password) = try mailUser("neomutt")
      let account = Harness.uniqueName("mutt")
      try add(ws, account, user: user, secret: password)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      let rc = try ws.write(
        "neomuttrc",
        """
        set from = "\(user)"
        set smtp_url = "smtp://127.0.0.1:\(Harness.submissionPort)/"
        set smtp_user = "\(user)"
        set smtp_pass = "`mailcred get \(account)`"
        set ssl_starttls = yes
        set ssl_force_tls = yes
        set ssl_ca_certificates_file = "\(Harness.caFile)"
        set record = ""

        """)
      let log = Mail.DovecotLog()
      let marker = Mail.marker("neomutt")
      let sent = try ws.run("/usr/bin/neomutt", ["-n", "-F", rc, "-s", marker, "--", "rcpt@example.test"], stdin: "body of \(marker)\n")
      #expect(sent.status == 0, "neomutt: \(sent.stdout) \(sent.stderr)")
      expectNoLeak(sent, "neomutt")
      #expect(Mail.delivered(marker) != nil, "the message never reached the sink")
      #expect(log.newLines().contains("Login: user=<\(user)>"), "neomutt did not authenticate")
    }
  }
}

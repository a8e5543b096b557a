import Foundation
import Testing

extension RealKeyringTests.ClientConfigTests {
  /// Items the real `secret-tool` stored in the harness gnome-keyring, as msmtp's documentation tells users
  /// to: `import` stores each as a checked mailcred credential, rewrites the client's line, and leaves the item.
  @Test func importTakesMsmtpsOwnKeyringItemAndASecretToolPasswordevalAndLeavesTheItems() throws {
    let ws = try ClientWorkspace("import-foreign")
    let (user, password) = try clients.mailUser("import-foreign")
    let own = Harness.uniqueName("own"), named = Harness.uniqueName("st")
    let label = Harness.uniqueName("msmtp-item")
    defer {
      for name in [own, named] { _ = try? mailcred(ws, ["remove", name, "--yes"]) }
      _ = try? ws.run("/usr/bin/secret-tool", ["clear", "host", "127.0.0.1", "service", "smtp", "user", user])
      _ = try? ws.run("/usr/bin/secret-tool", ["clear", "mailcred-test", named])
    }
    // msmtp's documented way, and a lookup by attributes of the user's own choosing.
    #expect(try ws.run("/usr/bin/secret-tool", ["store", "--label=\(label)", "host", "127.0.0.1", "service", "smtp", "user", user], stdin: password).status == 0)
    #expect(try ws.run("/usr/bin/secret-tool", ["store", "--label=mine", "mailcred-test", named], stdin: password).status == 0)
    func block(_ name: String, _ extra: String) -> String {
      "account \(name)\nhost 127.0.0.1\nport \(Harness.submissionPort)\ntls on\ntls_trust_file \(Harness.caFile)\nauth on\nuser \(user)\nfrom \(user)\n\(extra)"
    }
    let original = "# two accounts\n" + block(own, "\n") + block(named, "passwordeval \"secret-tool lookup mailcred-test '\(named)' 2>/dev/null\"\n")
      + "\naccount default : \(own)\n"
    let rc = try ws.write(".msmtprc", original)

    let doctor = try mailcred(ws, ["doctor", "msmtp"])
    #expect(doctor.stdout.contains("\(rc):19: info: the password comes from `secret-tool lookup`"), "\(doctor.stdout)")
    #expect(doctor.stdout.contains("    write instead: passwordeval \"mailcred get \(named)\""))
    let dry = try mailcred(ws, ["import", "msmtp", "--dry-run"])
    #expect(dry.status == 0, "\(dry.stderr)")
    #expect(dry.stdout.contains("\(rc):8: would store \(own) from msmtp's own keyring item"), "\(dry.stdout)")
    #expect(dry.stdout.contains("\(rc):19: would store \(named) from the item `secret-tool lookup` reads (mailcred-test=\(named))"))
    #expect(String(decoding: bytes(rc), as: UTF8.self) == original, "--dry-run changed the file")
    #expect(try mailcred(ws, ["show", own]).status == 67, "--dry-run stored something")

    let log = Mail.DovecotLog()
    let imported = try mailcred(ws, ["import", "msmtp", "--timeout", "10"])
    #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
    expectNoLeak(imported, "import")
    #expect(imported.stderr.contains("msmtp's own keyring item (host=127.0.0.1 service=smtp user=\(user)) is left in the keyring as it was; mailcred's copy is \(own)"))
    #expect(imported.stderr.contains("is left in the keyring as it was; mailcred's copy is \(named)"))
    #expect(log.newLines().components(separatedBy: "\n").filter { $0.contains("Login: user=<\(user)>") }.count == 2, "each secret checked live")
    let after = String(decoding: bytes(rc), as: UTF8.self)
    // msmtp's own lookup: the line goes after `user`; the secret-tool line is replaced.
    var expected = original.components(separatedBy: "\n")
    expected[18] = "passwordeval \"mailcred get \(named)\""
    expected.insert("passwordeval \"mailcred get \(own)\"", at: 8)
    #expect(after == expected.joined(separator: "\n"), "\(after)")
    #expect(filesHolding(password, in: ws).isEmpty)
    // The other programs' items are still there, untouched.
    let search = try ws.run("/usr/bin/secret-tool", ["search", "--all", "host", "127.0.0.1", "service", "smtp", "user", user])
    #expect(search.stdout.contains("label = \(label)"), "msmtp's item is gone: \(search.stdout)")
    #expect(try ws.run("/usr/bin/secret-tool", ["lookup", "mailcred-test", named]).stdout == password)

    for name in [own, named] {
      let marker = Mail.marker("foreign")
      let sent = try ws.run("/usr/bin/msmtp", ["-a", name, "--", "rcpt@example.test"], stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker))
      #expect(sent.status == 0, "msmtp -a \(name): \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil, "msmtp -a \(name): the message never reached the sink")
    }
    let again = try mailcred(ws, ["import", "msmtp"])
    #expect(again.status == 0)
    #expect(String(decoding: bytes(rc), as: UTF8.self) == after, "a second import changed the file")
    #expect(try mailcred(ws, ["doctor", "msmtp"]).status == 0)
    let undone = try mailcred(ws, ["import", "--undo"])
    #expect(undone.status == 0, "\(undone.stderr)")
    #expect(String(decoding: bytes(rc), as: UTF8.self) == original, "--undo did not put the file back byte for byte")
  }

  /// git-credential-libsecret built from the sources Debian's git ships (as scripts/bench does; needs
  /// libsecret-1-dev, which ensure-packages installs), into the workspace.
  func buildGitLibsecret(_ ws: ClientWorkspace) throws -> String {
    let dir = ws.path + "/libsecret-build"
    try FileManager.default.copyItem(atPath: "/usr/share/doc/git/contrib/credential/libsecret", toPath: dir)
    let made = try Harness.run("/usr/bin/make", ["-s", "-C", dir], deadline: 120)
    #expect(made.status == 0, "building git-credential-libsecret: \(made.stderr)")
    return dir + "/git-credential-libsecret"
  }

  /// git send-email whose password the real git-credential-libsecret stored (as git does after a send):
  /// import stores it in mailcred, adds the helper section, git then asks mailcred only, and libsecret's
  /// item stays.
  @Test func importTakesGitCredentialLibsecretsItemAndGitAsksMailcredAfterwards() throws {
    let ws = try ClientWorkspace("import-libsecret")
    let (user, password) = try clients.mailUser("import-libsecret")
    let helper = try buildGitLibsecret(ws)
    let host = "127.0.0.1:\(Harness.submissionPort)"
    let request = "protocol=smtp\nhost=\(host)\nusername=\(user)\n"
    defer {
      _ = try? mailcred(ws, ["remove", user, "--yes"])
      _ = try? ws.run(helper, ["erase"], stdin: request + "\n")
    }
    #expect(try ws.run(helper, ["store"], stdin: request + "password=\(password)\n\n").status == 0)
    let gitconfig = try ws.write(".gitconfig", """
      [sendemail]
      \tsmtpServer = 127.0.0.1
      \tsmtpServerPort = \(Harness.submissionPort)
      \tsmtpEncryption = tls
      \tsmtpUser = \(user)
      \tsmtpSSLCertPath = \(Harness.caFile)
      [credential]
      \thelper = \(helper)

      """)
    let original = bytes(gitconfig)
    let doctor = try mailcred(ws, ["doctor", "git"])
    #expect(doctor.stdout.contains("\(gitconfig):2: info: git's credential helper libsecret keeps this password"), "\(doctor.stdout)")
    let dry = try mailcred(ws, ["import", "git", "--dry-run"])
    #expect(dry.stdout.contains("would store \(user) from git-credential-libsecret's item (port=\(Harness.submissionPort) protocol=smtp server=127.0.0.1 user=\(user))"), "\(dry.stdout) \(dry.stderr)")
    #expect(bytes(gitconfig) == original)

    let imported = try mailcred(ws, ["import", "git", "--timeout", "10"])
    #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
    #expect(imported.stderr.contains("git-credential-libsecret's item (port=\(Harness.submissionPort) protocol=smtp server=127.0.0.1 user=\(user)) is left in the keyring as it was"))
    let text = String(decoding: bytes(gitconfig), as: UTF8.self)
    #expect(text == String(decoding: original, as: UTF8.self) + "[credential \"smtp://\(host)\"]\n\thelper =\n\thelper = mailcred\n", "\(text)")
    #expect(try ws.mailcred(["get", user]).stdout == password + "\n")
    // libsecret's item is still there; git now runs mailcred, not libsecret, for this server.
    #expect(try ws.run(helper, ["get"], stdin: request + "\n").stdout.contains("password=\(password)"))
    let fill = try ws.run("/usr/bin/env", ["GIT_TRACE=1", "/usr/bin/git", "credential", "fill"], stdin: request + "\n")
    #expect(fill.stdout.contains("password=\(password)"), "\(fill.stderr)")
    #expect(fill.stderr.contains("credential-mailcred get"), "\(fill.stderr)")
    #expect(!fill.stderr.contains("libsecret"), "git still asked libsecret: \(fill.stderr)")

    let marker = Mail.marker("libsecret-import")
    let sent = try clients.sendEmail(ws, patch: try clients.patch(ws, subject: marker), from: user)
    #expect(sent.status == 0, "git send-email: \(sent.stdout) \(sent.stderr)")
    #expect(Mail.delivered(marker) != nil, "the patch never reached the sink")
    #expect(try mailcred(ws, ["import", "git"]).status == 0)
    #expect(String(decoding: bytes(gitconfig), as: UTF8.self) == text, "a second import changed .gitconfig")
    #expect(try mailcred(ws, ["doctor", "git"]).status == 0)
    #expect(try mailcred(ws, ["import", "--undo", "git"]).status == 0)
    #expect(bytes(gitconfig) == original, "--undo did not restore .gitconfig byte for byte")
  }

  /// The same on KeePassXC (the suite's, on its own bus): an item secret-tool stored there for msmtp.
  @Test func importTakesMsmtpsOwnItemFromKeePassXC() throws {
    let ws = try ClientWorkspace("import-kpxc")
    let (user, password) = try clients.mailUser("import-kpxc")
    let account = Harness.uniqueName("kp")
    var kpxc = env(ws)
    for (key, value) in Harness.keepassxcEnvironment { kpxc[key] = value }
    func secretTool(_ arguments: [String], stdin: String? = nil) throws -> Harness.Output {
      try Harness.run("/usr/bin/secret-tool", arguments, stdin: stdin, environment: kpxc, deadline: 20)
    }
    let attributes = ["host", "127.0.0.1", "service", "smtp", "user", user]
    defer {
      _ = try? Harness.mailcred(["remove", account, "--yes"], environment: kpxc, deadline: 30)
      _ = try? secretTool(["clear"] + attributes)
    }
    #expect(try secretTool(["store", "--label=msmtp on keepassxc"] + attributes, stdin: password).status == 0)
    let text = "account \(account)\nhost 127.0.0.1\nport \(Harness.submissionPort)\ntls on\ntls_trust_file \(Harness.caFile)\nauth on\nuser \(user)\nfrom \(user)\n"
    let rc = try ws.write(".msmtprc", text)
    let imported = try Harness.mailcred(["import", "msmtp", "--timeout", "10"], environment: kpxc, deadline: 60)
    #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
    #expect(String(decoding: bytes(rc), as: UTF8.self) == text.replacingOccurrences(of: "user \(user)\n", with: "user \(user)\npasswordeval \"mailcred get \(account)\"\n"))
    #expect(try Harness.mailcred(["get", account], environment: kpxc, deadline: 30).stdout == password + "\n")
    #expect(try secretTool(["search", "--all"] + attributes).stdout.contains("label = msmtp on keepassxc"), "the KeePassXC item is gone")
    let marker = Mail.marker("kpxc-foreign")
    let sent = try Harness.run("/usr/bin/msmtp", ["-a", account, "--", "rcpt@example.test"], stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker),
                               environment: kpxc.merging(["PATH": ws.path + "/bin:/usr/bin:/bin"]) { _, new in new }, deadline: 60)
    #expect(sent.status == 0, "msmtp: \(sent.stderr)")
    #expect(Mail.delivered(marker) != nil, "the message never reached the sink")
  }
}

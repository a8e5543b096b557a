import Foundation
import Testing

extension RealKeyringTests.ClientConfigTests {
    // MARK: aerc (Debian's 0.14, driven in tmux)

    /// Runs a program with /dev/null for its standard streams and waits for it with waitpid: the tmux
    /// client that starts a server exits at once, and Foundation's Process never saw it exit (measured:
    /// a zombie left unreaped and the test stuck).
    func spawnAndWait(_ argv: [String], environment extra: [String: String?]) -> Int32 {
      var env = Harness.environment
      for (key, value) in extra { env[key] = value }
      let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
      let args = argv.map { strdup($0) } + [nil]
      defer { (envp + args).forEach { free($0) } }
      var actions = posix_spawn_file_actions_t()
      posix_spawn_file_actions_init(&actions)
      defer { posix_spawn_file_actions_destroy(&actions) }
      for fd in [Int32(0), 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
      var pid: pid_t = 0
      guard posix_spawn(&pid, argv[0], &actions, nil, args, envp) == 0 else { return -1 }
      var status: Int32 = 0
      while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
      return (status >> 8) & 0xff
    }

    static let aercInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/aerc") && FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux")

    @Test(.enabled(if: aercInstalled, "aerc or tmux is not installed"))
    func aercImportMovesURLPasswordsToCredCmdsAndAercLogsInAndSendsWithThem() throws {
      let ws = try ClientWorkspace("import-aerc")
      let (user, password) = try clients.mailUser("import-aerc")
      let account = Harness.uniqueName("aerc")
      let encodedUser = user.replacingOccurrences(of: "@", with: "%40")
      let conf = try ws.write("config/aerc/accounts.conf", """
        [\(account)]
        source = imaps://\(encodedUser):\(password)@127.0.0.1:\(Harness.imapsPort)
        outgoing = smtp://\(encodedUser):\(password)@127.0.0.1:\(Harness.submissionPort)
        smtp-starttls = yes
        from = Mail Cred <\(user)>
        default = INBOX

        """)
      // The editor aerc runs for a new message: writes the body and ends, so aerc goes to its review screen.
      let editor = try ws.write("editor.sh", "#!/bin/sh\nprintf 'body of the aerc message\\n' >> \"$1\"\n")
      chmod(editor, 0o755)
      _ = try ws.write("config/aerc/aerc.conf", "[compose]\neditor = \(editor)\n")
      defer { _ = try? mailcred(ws, ["remove", account, "--yes"]) }

      let imported = try mailcred(ws, ["import", "aerc", "--timeout", "10", "--ca-file", Harness.caFile])
      #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
      #expect(String(decoding: bytes(conf), as: UTF8.self) == """
        [\(account)]
        source = imaps://\(encodedUser)@127.0.0.1:\(Harness.imapsPort)
        source-cred-cmd = mailcred get \(account)
        outgoing = smtp://\(encodedUser)@127.0.0.1:\(Harness.submissionPort)
        outgoing-cred-cmd = mailcred get \(account)
        smtp-starttls = yes
        from = Mail Cred <\(user)>
        default = INBOX

        """)
      #expect(filesHolding(password, in: ws).isEmpty)
      #expect(try ws.mailcred(["show", account]).stdout.contains("127.0.0.1:\(Harness.imapsPort)"), "one credential with both endpoints")

      #expect(try mailcred(ws, ["doctor", "aerc"]).status == 0)

      // The real aerc logs in to IMAP with the rewritten file's source-cred-cmd and sends through submission
      // with its outgoing-cred-cmd (it trusts the harness CA through Go's SSL_CERT_FILE). Sending used to stop
      // after EHLO: aerc 0.14 reads `smtp-starttls = yes` only (doctor: aerc-starttls-value).
      let socket = Harness.uniqueName("aerc-tmux")
      var env = env(ws)
      env["SSL_CERT_FILE"] = Harness.caFile
      env["TERM"] = "xterm-256color"
      env["XDG_RUNTIME_DIR"] = ws.path + "/run"
      try FileManager.default.createDirectory(atPath: ws.path + "/run", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      func screen() -> String {
        (try? Harness.run("/bin/sh", ["-c", "exec /usr/bin/tmux -L \"$0\" capture-pane -p </dev/null 2>/dev/null", socket], environment: env, deadline: 10))?.stdout ?? ""
      }
      // aerc ignores the SIGHUP of `tmux kill-server` (measured: both lingered): end aerc itself first.
      defer {
        let pane = (try? Harness.run("/bin/sh", ["-c", "exec /usr/bin/tmux -L \"$0\" display-message -p '#{pane_pid}' </dev/null 2>/dev/null", socket], environment: env, deadline: 10))?.stdout
        if let pid = pane.flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }), pid > 1 { kill(pid, SIGTERM) }
        _ = spawnAndWait(["/usr/bin/tmux", "-L", socket, "kill-server"], environment: env)
      }
      let log = Mail.DovecotLog()
      #expect(spawnAndWait(["/usr/bin/tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "48", "aerc"], environment: env) == 0)
      let deadline = Date().addingTimeInterval(20)
      var connected = false
      while Date() < deadline && !connected {
        connected = screen().contains("[\(account)] Connected")
        if !connected { Thread.sleep(forTimeInterval: 0.3) }
      }
      #expect(connected, "aerc did not connect: \(screen())")
      #expect(log.newLines().contains("imap-login: Info: Login: user=<\(user)>, method=PLAIN"), "aerc did not log in with source-cred-cmd")
      let marker = Mail.marker("aerc-import")
      let sendLog = Mail.DovecotLog()
      #expect(spawnAndWait(["/usr/bin/tmux", "-L", socket, "send-keys", ":compose -H \"To: rcpt@example.test\" -H \"Subject: \(marker)\"", "Enter"], environment: env) == 0)
      let reviewDeadline = Date().addingTimeInterval(15)
      var review = false
      while Date() < reviewDeadline && !review {
        review = screen().contains("Send this email?")
        if !review { Thread.sleep(forTimeInterval: 0.3) }
      }
      #expect(review, "aerc never reached its review screen: \(screen())")
      #expect(spawnAndWait(["/usr/bin/tmux", "-L", socket, "send-keys", "y"], environment: env) == 0)
      let message = Mail.delivered(marker, within: 20)
      #expect(message?.contains("body of the aerc message") == true, "aerc's message never reached the sink: \(screen())")
      #expect(sendLog.newLines().contains("submission-login: Info: Login: user=<\(user)>, method=PLAIN"), "aerc did not log in to submission")
      #expect(!screen().contains(Harness.canary))
    }
}

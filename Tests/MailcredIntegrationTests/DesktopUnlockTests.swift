import Foundation
import Testing

extension RealKeyringTests {
  /// A desktop's locked login keyring: gnome-keyring asks the real gcr prompter (on Xvfb) for the
  /// password; the test answers it as a person would (xdotool types the password, or presses Escape).
  @Suite(.enabled(if: Harness.available, "needs scripts/test (harness)"))
  struct DesktopUnlockTests {
    /// One desktop (Xvfb + bus + gnome-keyring) for the test; stopped when the test ends.
    final class Desktop {
      let directory: String
      var environment: [String: String?] = [:]

      init() throws {
        directory = try #require(Harness.directory) + "/desktop-\(UInt32.random(in: 0...UInt32.max))"
        let started = try Harness.run(Harness.scripts + "/harness/desktop-keyring", ["start", directory], deadline: 40)
        try #require(started.status == 0, "desktop-keyring start: \(started.stderr)")
        let lines = try String(contentsOfFile: directory + "/env", encoding: .utf8).split(separator: "\n")
        for line in lines where line.hasPrefix("export ") {
          let assignment = line.dropFirst("export ".count)
          guard let equals = assignment.firstIndex(of: "=") else { continue }
          environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        environment["MAILCRED_UNLOCK_TIMEOUT"] = "20"
      }

      deinit { _ = try? Harness.run(Harness.scripts + "/harness/desktop-keyring", ["stop", directory]) }

      func lock() throws {
        let locked = try Harness.run(Harness.scripts + "/harness/desktop-keyring", ["lock", directory])
        #expect(locked.status == 0, "\(locked.stderr)")
      }

      func mailcred(_ arguments: [String], stdin: String? = nil, display: Bool = true) throws -> Harness.Output {
        var env = environment
        if !display { env["DISPLAY"] = nil as String? }
        return try Harness.mailcred(arguments, stdin: stdin, environment: env, deadline: 40)
      }

      /// Runs `body` while a person answers the prompt (`password` or `escape`); returns body's result.
      func answering<T>(_ how: String, _ body: () throws -> T) throws -> T {
        let answered = ResultBox(1)
        let group = DispatchGroup()
        group.enter()
        let directory = self.directory
        DispatchQueue.global().async {
          answered.set(0, try? Harness.run(Harness.scripts + "/harness/desktop-keyring", ["answer", directory, how], deadline: 30))
          group.leave()
        }
        let result = try body()
        group.wait()
        #expect(answered.values[0]?.status == 0, "no prompt to answer: \(answered.values[0]?.stderr ?? "")")
        return result
      }
    }

    @Test func lockedWithADisplayTheRealPrompterAppearsAndTypingThePasswordLetsGetPrint() throws {
      let desktop = try Desktop()
      let account = Harness.uniqueName("desk")
      #expect(try desktop.mailcred(["add", account, "--user", "d@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], stdin: "desk-\(Harness.canary)\n").status == 0)
      try desktop.lock()

      // No display: at once, locked, with the way out named.
      let headless = try desktop.mailcred(["get", account], display: false)
      #expect(headless.status == 69)
      #expect(headless.seconds < 2)
      #expect(headless.stderr.contains("mailcred unlock"))
      #expect(headless.stdout.isEmpty)

      let got = try desktop.answering("password") { try desktop.mailcred(["get", account]) }
      #expect(got.status == 0, "\(got.stderr)")
      #expect(got.stdout == "desk-\(Harness.canary)\n")
    }

    @Test func escapeAtThePromptIs69DismissedAndNothingChanges() throws {
      let desktop = try Desktop()
      let account = Harness.uniqueName("desk-esc")
      #expect(try desktop.mailcred(["add", account, "--user", "d@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], stdin: "kept-\(Harness.canary)\n").status == 0)
      try desktop.lock()
      let refused = try desktop.answering("escape") {
        try desktop.mailcred(["add", account, "--user", "d@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check", "--replace"], stdin: "new-\(Harness.canary)\n")
      }
      #expect(refused.status == 69)
      #expect(refused.stderr.contains("dismissed"), "\(refused.stderr)")
      let got = try desktop.answering("password") { try desktop.mailcred(["get", account]) }
      #expect(got.stdout == "kept-\(Harness.canary)\n", "the old secret stays: \(got.stderr)")
    }

    @Test func msmtpPasswordevalOnALockedDesktopKeyringSendsOnceThePasswordIsTyped() throws {
      let desktop = try Desktop()
      let ws = try ClientWorkspace("desk-msmtp")
      let user = Harness.uniqueName("desk-msmtp") + "@example.test"
      let password = "pw-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      try Harness.setPassword(user: user, password: password)
      let account = Harness.uniqueName("work")
      #expect(try desktop.mailcred(["add", account, "--user", user, "--smtp", "127.0.0.1:\(Harness.submissionPort)", "--password-stdin", "--no-check"], stdin: password + "\n").status == 0)
      try desktop.lock()

      let rc = try ws.write("msmtprc", """
        account \(account)
        host 127.0.0.1
        port \(Harness.submissionPort)
        tls on
        tls_starttls on
        tls_trust_file \(Harness.caFile)
        auth on
        user \(user)
        from \(user)
        passwordeval "mailcred get \(account)"

        """)
      let marker = Mail.marker("desk")
      var env = ws.environment
      for (key, value) in desktop.environment where key != "HOME" { env[key] = value }
      let sent = try desktop.answering("password") {
        try Harness.run(
          "/usr/bin/setsid", ["-w", "/usr/bin/msmtp", "-C", rc, "-a", account, "--", "rcpt@example.test"],
          stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker), environment: env, deadline: 40)
      }
      expectNoLeak(sent, "msmtp")
      #expect(sent.status == 0, "msmtp: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil, "the message never reached the sink")
    }

    @Test func unlockCommandUnlocksWithTheKeyringPasswordAndRefusesAWrongOneWith77() throws {
      let desktop = try Desktop()
      let account = Harness.uniqueName("desk-unlock")
      #expect(try desktop.mailcred(["add", account, "--user", "d@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], stdin: "u-\(Harness.canary)\n").status == 0)
      try desktop.lock()
      let wrong = try desktop.mailcred(["unlock", "--password-stdin"], stdin: "not-the-password\n", display: false)
      #expect(wrong.status == 77, "\(wrong.stderr)")
      #expect(try desktop.mailcred(["get", account], display: false).status == 69)
      let keyringPassword = try String(contentsOfFile: desktop.directory + "/password", encoding: .utf8)
      let unlocked = try desktop.mailcred(["unlock", "--password-stdin"], stdin: keyringPassword + "\n", display: false)
      #expect(unlocked.status == 0, "\(unlocked.stderr)")
      #expect(try desktop.mailcred(["get", account], display: false).stdout == "u-\(Harness.canary)\n")
      // Not gnome-keyring: a clear 69 naming what answers.
      try Harness.keepassxc("lock")
      defer { try? Harness.keepassxc("unlock") }
      let other = try Harness.mailcred(["unlock", "--password-stdin"], stdin: "x\n", environment: Harness.keepassxcEnvironment)
      #expect(other.status == 69)
      #expect(other.stderr.contains("not gnome-keyring") && other.stderr.contains("keepassxc"), "\(other.stderr)")
    }
  }
}

import Foundation
import Testing

extension RealKeyringTests {
  /// `mailcred rotate` end to end: the built binary, gnome-keyring, Dovecot (SMTP STARTTLS + IMAPS).
  @Suite(.enabled(if: Harness.available, "needs scripts/test (keyring and mail servers)"))
  struct RotationTests {
    // MARK: Fixtures

    /// A mail user holding two valid secrets at once (set-password --second), as a provider holds the old
    /// and the new app password until the old one is revoked. Made once per run: set-password waits out
    /// Dovecot's one-second passwd-file cache.
    struct Mailbox: Sendable {
      var user: String
      var old: String
      var new: String
    }

    static let mailbox: Result<Mailbox, any Error> = Result {
      let box = Mailbox(
        user: Harness.uniqueName("rotating") + "@example.test", old: "old-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))",
        new: "new-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))")
      try setPassword(box.user, box.old)
      try setPassword(box.user, box.new, second: true)
      return box
    }

    static func setPassword(_ user: String, _ password: String, second: Bool = false) throws {
      let result = try Harness.run(
        Harness.scripts + "/harness/set-password", (second ? ["--second"] : []) + [try #require(Harness.directory), user],
        stdin: password + "\n")
      guard result.status == 0 else { throw LoopbackError.setup("set-password: \(result.stderr)") }
    }

    var live: [String] { ["--ca-file", Harness.caFile, "--timeout", "10"] }

    func add(_ account: String, user: String, secret: String, smtpPort: Int = Harness.submissionPort, imap: Bool = true, check: Bool = true, extra: [String] = []) throws {
      let imapOptions = imap ? ["--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"] : []
      let added = try Harness.mailcred(
        ["add", account, "--user", user, "--smtp", "127.0.0.1:\(smtpPort)", "--password-stdin"] + imapOptions + live
          + (check ? [] : ["--no-check"]) + extra,
        stdin: secret + "\n")
      try #require(added.status == 0, "add \(account): \(added.stderr)")
    }

    func rotate(_ account: String, secret: String?, _ extra: [String] = []) throws -> Harness.Output {
      let output = try Harness.mailcred(
        ["rotate", account] + (secret == nil ? [] : ["--password-stdin"]) + live + extra,
        stdin: secret.map { $0 + "\n" }, deadline: 60)
      noLeak(output)
      return output
    }

    func get(_ account: String) throws -> String? {
      let got = try Harness.mailcred(["get", account])
      guard got.status == 0, got.stdout.hasSuffix("\n") else { return nil }
      return String(got.stdout.dropLast())
    }

    func check(_ account: String) throws -> Int32 {
      let checked = try Harness.mailcred(["check", account] + live)
      noLeak(checked)
      return checked.status
    }

    /// The states of an account's items, as `list --json` reports them (current first).
    func states(_ account: String) throws -> [String] {
      let listed = try Harness.mailcred(["list", "--json"])
      let items = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
      return items.filter { $0["account"] as? String == account }.compactMap { $0["state"] as? String }.sorted()
    }

    func show(_ account: String) throws -> [String: Any] {
      let shown = try Harness.mailcred(["show", account, "--json"])
      return try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
    }

    func noLeak(_ output: Harness.Output) {
      #expect(!output.stdout.contains(Harness.canary) && !output.stderr.contains(Harness.canary), "secret leaked")
    }

    func remove(_ accounts: String...) throws {
      for account in accounts { try Harness.mailcred(["remove", account, "--yes"]) }
    }

    // MARK: Outcomes

    @Test func rightNewSecretBecomesCurrentAndTheOldOneStopsWorking() throws {
      let user = Harness.uniqueName("rot-right") + "@example.test"
      let old = "old-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      let new = "new-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      let account = Harness.uniqueName("rot-right")
      try Self.setPassword(user, old)
      try add(account, user: user, secret: old, extra: ["--created", "2026-01-01"])
      #expect(try show(account)["created"] as? String == "2026-01-01T00:00:00Z")

      // The user changes the password at the provider, then rotates.
      try Self.setPassword(user, new)
      let rotated = try rotate(account, secret: new)
      #expect(rotated.status == 0, "\(rotated.stderr)")
      #expect(rotated.stdout.isEmpty)
      #expect(rotated.stderr.contains("rotated \(account)"))
      #expect(try get(account) == new)
      let shown = try show(account)
      let created = try #require(shown["created"] as? String)
      #expect(created > "2026-01-01T00:00:00Z")
      #expect(created.hasPrefix(String(ISO8601DateFormatter().string(from: Date()).prefix(10))))
      #expect(shown["check_result"] as? String == "ok")
      #expect(try states(account) == ["current"])
      #expect(try check(account) == 0)

      // The old secret, tried through mailcred under another name, is rejected.
      let previous = Harness.uniqueName("rot-previous")
      try add(previous, user: user, secret: old, check: false)
      #expect(try check(previous) == 77)
      try remove(account, previous)
    }

    @Test func wrongNewSecretIs77AndTheOldOneStaysCurrentAndWorking() throws {
      let box = try Self.mailbox.get()
      let account = Harness.uniqueName("rot-wrong")
      try add(account, user: box.user, secret: box.old)
      let before = try show(account)
      let rotated = try rotate(account, secret: "typo-\(Harness.canary)")
      #expect(rotated.status == 77)
      #expect(rotated.stderr.contains("rejected"))
      #expect(rotated.stderr.contains("unchanged"))
      #expect(try get(account) == box.old)
      #expect(try check(account) == 0)
      #expect(try states(account) == ["current"], "no pending item left")
      #expect(try show(account)["created"] as? String == before["created"] as? String)
      try remove(account)
    }

    @Test func identicalSecretIsRefusedInOneLineAndNothingChanges() throws {
      let box = try Self.mailbox.get()
      let account = Harness.uniqueName("rot-same")
      try add(account, user: box.user, secret: box.old)
      let before = try show(account)
      let rotated = try rotate(account, secret: box.old)
      #expect(rotated.status == 65)
      #expect(rotated.stderr.split(separator: "\n").count == 1, "\(rotated.stderr)")
      #expect(rotated.stderr.contains("same as the current one"))
      #expect(try get(account) == box.old)
      #expect(try states(account) == ["current"])
      #expect(try show(account)["created"] as? String == before["created"] as? String)
      try remove(account)
    }

    @Test func noCheckReplacesWithoutVerifyingAndSaysSo() throws {
      let box = try Self.mailbox.get()
      let account = Harness.uniqueName("rot-nocheck")
      try add(account, user: box.user, secret: box.old)
      // A secret the server does not know: only --no-check lets it in.
      let unknown = "unverified-\(Harness.canary)"
      let rotated = try rotate(account, secret: unknown, ["--no-check"])
      #expect(rotated.status == 0, "\(rotated.stderr)")
      #expect(rotated.stderr.contains("without verification (--no-check)"))
      #expect(try get(account) == unknown)
      #expect(try states(account) == ["current"])
      #expect(try check(account) == 77, "it really was not verified")
      try remove(account)
    }

    @Test func temporaryFailureIs75AndTheOldSecretStaysCurrent() throws {
      let box = try Self.mailbox.get()
      let account = Harness.uniqueName("rot-refused")
      try add(account, user: box.user, secret: box.old, smtpPort: try closedLoopbackPort(), imap: false, check: false)
      let rotated = try rotate(account, secret: box.new)
      #expect(rotated.status == 75)
      #expect(rotated.stderr.contains("refused"))
      #expect(rotated.stderr.contains("retry later, or use --no-check"))
      #expect(try get(account) == box.old)
      #expect(try states(account) == ["current"])
      try remove(account)
    }

    @Test func rotateWithoutAnAccountAndWithoutATerminalIsAUsageError() throws {
      let rotated = try Harness.mailcred(["rotate"], stdin: "")
      #expect(rotated.status == 64)
      #expect(rotated.stderr.split(separator: "\n").count == 1)
      #expect(rotated.stderr.contains("name the ACCOUNT"))
      #expect(try Harness.mailcred(["rotate", "--resume"]).status == 64)
      #expect(try Harness.mailcred(["rotate", "x", "--resume", "--abort"]).status == 64)
    }

    @Test func resumeOrAbortWithNothingInterruptedIs65() throws {
      let box = try Self.mailbox.get()
      let account = Harness.uniqueName("rot-nothing")
      try add(account, user: box.user, secret: box.old, check: false)
      for option in ["--resume", "--abort"] {
        let settled = try rotate(account, secret: nil, [option])
        #expect(settled.status == 65)
        #expect(settled.stderr.contains("no interrupted rotation"))
      }
      #expect(try Harness.mailcred(["rotate", "no-such-account-\(UInt32.random(in: 0...UInt32.max))", "--abort"]).status != 0)
      try remove(account)
    }

    // MARK: Killed half-way

    /// Where a rotation is killed. Checkpoints are the debug-build hook's numbers (Rotation.swift).
    enum KillPoint: String, CaseIterable, CustomTestStringConvertible {
      case rightAfterStart
      case beforeAnyWrite = "checkpoint 1"
      case pendingStored = "checkpoint 2"
      case pendingVerified = "checkpoint 3"
      case beforePromotion = "checkpoint 5"
      case promoted = "checkpoint 6 (two current)"
      case oldDeleted = "checkpoint 7"
      case rejectedBeforeCleanup = "rejected, checkpoint 3"
      case rejectedCleanedUp = "rejected, checkpoint 4"
      case noCheckPendingStored = "--no-check, checkpoint 2"
      case noCheckPromoted = "--no-check, checkpoint 6"
      case duringLiveCheck = "during the live check"
      case resumeVerified = "--resume killed at checkpoint 8"
      case resumePromoted = "--resume killed at checkpoint 9"

      var testDescription: String { rawValue }

      var checkpoint: Int? {
        switch self {
        case .beforeAnyWrite: 1
        case .pendingStored, .noCheckPendingStored: 2
        case .pendingVerified, .rejectedBeforeCleanup: 3
        case .rejectedCleanedUp: 4
        case .beforePromotion: 5
        case .promoted, .noCheckPromoted: 6
        case .oldDeleted: 7
        case .rightAfterStart, .duringLiveCheck, .resumeVerified, .resumePromoted: nil
        }
      }

      var rejected: Bool { self == .rejectedBeforeCleanup || self == .rejectedCleanedUp }

      /// What the keyring holds after the kill: the account's item states, sorted.
      var leftover: [String] {
        switch self {
        case .rightAfterStart, .beforeAnyWrite, .rejectedCleanedUp, .oldDeleted: ["current"]
        case .promoted, .noCheckPromoted, .resumePromoted: ["current", "current"]
        default: ["current", "pending"]
        }
      }

      /// Some leftovers are settled with --resume (which verifies a pending secret again), others with --abort.
      var settlesWithResume: Bool {
        switch self {
        case .pendingVerified, .promoted, .duringLiveCheck, .resumePromoted: false
        default: true
        }
      }
    }

    @Test(arguments: KillPoint.allCases)
    func killedAtAnyPointLeavesAWorkingSecretAndResumeOrAbortSettlesIt(point: KillPoint) throws {
      let box = try Self.mailbox.get()
      let account = Harness.uniqueName("rot-kill")
      // For a kill during the live check, SMTP goes through a proxy that holds each connection 0.5 s.
      let proxy = point == .duringLiveCheck ? try DelayingProxy(upstream: Harness.submissionPort, delay: 0.5) : nil
      defer { proxy?.stop() }
      try add(account, user: box.user, secret: box.old, smtpPort: proxy?.port ?? Harness.submissionPort, check: proxy == nil)
      let newSecret = point.rejected ? "typo-\(Harness.canary)" : box.new

      // Start the rotation (or, for the --resume points, leave a pending item first and start --resume).
      var arguments = ["rotate", account, "--password-stdin"] + live
      var stdin: String? = newSecret + "\n"
      if point == .noCheckPendingStored || point == .noCheckPromoted { arguments.append("--no-check") }
      var pause = point.checkpoint
      if point == .resumeVerified || point == .resumePromoted {
        let first = try RunningMailcred(arguments, stdin: stdin, environment: ["MAILCRED_TEST_ROTATE_PAUSE": "2"])
        #expect(first.waitForStderr("test pause at rotation step 2"))
        first.kill()
        arguments = ["rotate", account, "--resume"] + live
        stdin = nil
        pause = point == .resumeVerified ? 8 : 9
      }
      let running = try RunningMailcred(arguments, stdin: stdin, environment: pause.map { ["MAILCRED_TEST_ROTATE_PAUSE": String($0)] } ?? [:])
      switch point {
      case .rightAfterStart: break
      case .duringLiveCheck:
        #expect(running.wait(for: { proxy!.acceptCount > 0 }), "the check never reached the server")
      default:
        let marker = "mailcred: test pause at rotation step \(pause!)"
        #expect(running.waitForStderr(marker), "never paused: \(running.stderr)")
      }
      #expect(running.kill(), "the rotation ended before it could be killed: \(running.stderr)")
      #expect(!running.stdout.contains(Harness.canary) && !running.stderr.contains(Harness.canary), "secret leaked")

      // Whatever the point, `get` returns the old or the new secret, and it authenticates.
      let got = try get(account)
      #expect(got == box.old || got == newSecret)
      if point.rejected { #expect(got == box.old, "a rejected secret never becomes current") }
      #expect(try check(account) == 0)
      #expect(try states(account) == point.leftover)

      let interrupted = point.leftover != ["current"]
      if interrupted {
        // The next commands say so, and a new rotation is refused before a secret is asked for.
        let listed = try Harness.mailcred(["list"])
        #expect(listed.stderr.contains("rotation of \(account) was interrupted"))
        if point.leftover.contains("pending") { #expect(listed.stdout.contains("pending rotation")) }
        #expect(try Harness.mailcred(["show", account]).stderr.contains("--resume"))
        let again = try rotate(account, secret: "third-\(Harness.canary)")
        #expect(again.status == 75)
        #expect(again.stderr.contains("interrupted"))

        let settled = try rotate(account, secret: nil, [point.settlesWithResume ? "--resume" : "--abort"])
        if !point.settlesWithResume {
          #expect(settled.status == 0, "\(settled.stderr)")
          #expect(try get(account) == box.old)
        } else if point.rejected {
          #expect(settled.status == 77, "the pending secret is verified again and rejected")
          #expect(try get(account) == box.old)
        } else {
          #expect(settled.status == 0, "\(settled.stderr)")
          #expect(try get(account) == box.new)
        }
      } else {
        #expect(try rotate(account, secret: nil, ["--resume"]).status == 65)
        #expect(try get(account) == (point == .oldDeleted ? box.new : box.old))
      }
      #expect(try states(account) == ["current"], "exactly one current item, no pending one")
      #expect(try check(account) == 0)
      #expect(!(try Harness.mailcred(["list"]).stderr.contains("rotation of \(account)")))
      try remove(account)
    }

    /// Kills at random moments (no pause hook): each lands wherever the rotation happens to be.
    @Test func killedAtRandomMomentsAlwaysLeavesAWorkingSecret() throws {
      let box = try Self.mailbox.get()
      var landed: [String: Int] = [:]
      for round in 0..<12 {
        let account = Harness.uniqueName("rot-random")
        try add(account, user: box.user, secret: box.old, check: false)
        let delay = Double.random(in: 0...0.35)
        let running = try RunningMailcred(["rotate", account, "--password-stdin"] + live, stdin: box.new + "\n")
        usleep(UInt32(delay * 1_000_000))
        let killed = running.kill()
        #expect(!running.stderr.contains(Harness.canary))
        let got = try get(account)
        #expect(got == box.old || got == box.new, "round \(round), \(delay) s")
        #expect(try check(account) == 0, "round \(round), \(delay) s")
        let states = try states(account)
        let key = (killed ? "" : "finished: ") + states.joined(separator: "+") + " get=" + (got == box.new ? "new" : "old")
        landed[key, default: 0] += 1
        if states != ["current"] {
          let settled = try rotate(account, secret: nil, [round % 2 == 0 ? "--resume" : "--abort"])
          #expect(settled.status == 0, "\(settled.stderr)")
          #expect(try get(account) == (round % 2 == 0 ? box.new : box.old))
        }
        #expect(try self.states(account) == ["current"])
        #expect(try check(account) == 0)
        try remove(account)
      }
      print("rotation killed at random moments (0-350 ms):", landed.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
    }
  }
}

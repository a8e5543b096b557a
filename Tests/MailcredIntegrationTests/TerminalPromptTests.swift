import Foundation
import Testing

extension RealKeyringTests {
  /// The interactive paths, on a real pseudo-terminal (scripts/harness/pty-run): the no-echo prompt asked
  /// twice, confirmations, and interactive rotation.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
  struct TerminalPromptTests {
    struct Step: Encodable {
      var expect: String?
      var send: String?
    }

    /// Runs mailcred on a terminal, playing `steps`; returns what the terminal showed and the exit status.
    func onTerminal(_ arguments: [String], _ steps: [Step]) throws -> (screen: String, status: Int32) {
      let script = String(decoding: try JSONEncoder().encode(steps), as: UTF8.self)
      let result = try Harness.run(Harness.scripts + "/harness/pty-run", [try #require(Harness.binary)] + arguments, stdin: script, deadline: 30)
      let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
      let status = lines.last(where: { $0.hasPrefix("exit: ") }).flatMap { Int32($0.dropFirst(6)) } ?? -1
      return (result.stdout, status)
    }

    static func expect(_ text: String) -> Step { Step(expect: text, send: nil) }
    static func send(_ text: String) -> Step { Step(expect: nil, send: text) }

    @Test func addPromptsTwiceWithoutEchoAndStoresTheSecret() throws {
      let account = Harness.uniqueName("tty")
      let secret = "typed-\(Harness.canary)"
      let run = try onTerminal(
        ["add", account, "--user", "t@example.test", "--smtp", "127.0.0.1:2525", "--no-check"],
        [Self.expect("Secret for \(account)"), Self.send(secret + "\n"), Self.expect("Again"), Self.send(secret + "\n")])
      #expect(run.status == 0, "\(run.screen)")
      #expect(!run.screen.contains(Harness.canary), "the typed secret was echoed")
      #expect(try Harness.mailcred(["get", account]).stdout == secret + "\n")
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test func ctrlCAtTheHiddenPromptEndsWithEchoBackOnAndNothingStored() throws {
      let account = Harness.uniqueName("ttyint")
      let run = try onTerminal(
        ["add", account, "--user", "t@example.test", "--smtp", "127.0.0.1:2525", "--no-check"],
        [Self.expect("Secret for \(account)"), Self.send("half-typed"), Self.send("\u{03}")])
      #expect(run.screen.contains("exit: -2") || run.screen.contains("exit: 130"), "ended by SIGINT: \(run.screen)")
      #expect(run.screen.contains("echo: on"), "the terminal was left without echo: \(run.screen)")
      #expect(!run.screen.contains("half-typed"))
      #expect(try Harness.mailcred(["get", account]).status == 67)
    }

    @Test func twoDifferentEntriesAreRefusedAndNothingIsStored() throws {
      let account = Harness.uniqueName("ttymismatch")
      let run = try onTerminal(
        ["add", account, "--user", "t@example.test", "--smtp", "127.0.0.1:2525", "--no-check"],
        [Self.expect("Secret for"), Self.send("first-\(Harness.canary)\n"), Self.expect("Again"), Self.send("second-\(Harness.canary)\n")])
      #expect(run.status == 65, "\(run.screen)")
      #expect(run.screen.contains("differ"))
      #expect(!run.screen.contains(Harness.canary))
      #expect(try Harness.mailcred(["get", account]).status == 67)
    }

    @Test func addWithoutATerminalOrPasswordStdinIsAUsageError() throws {
      let result = try Harness.mailcred(["add", Harness.uniqueName("notty"), "--user", "t@example.test", "--smtp", "127.0.0.1:2525", "--no-check"], deadline: 10)
      #expect(result.status == 64)
      #expect(result.stderr.contains("--password-stdin"))
    }

    @Test func removeAsksAndOnlyYesRemoves() throws {
      let account = Harness.uniqueName("ttyrm")
      #expect(try Harness.mailcred(
        ["add", account, "--user", "t@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"],
        stdin: "kept-\(Harness.canary)\n").status == 0)
      let declined = try onTerminal(["remove", account], [Self.expect("Remove \(account)"), Self.send("n\n")])
      #expect(declined.status == 64)
      #expect(try Harness.mailcred(["get", account]).status == 0)
      let accepted = try onTerminal(["remove", account], [Self.expect("Remove \(account)"), Self.send("y\n")])
      #expect(accepted.status == 0, "\(accepted.screen)")
      #expect(try Harness.mailcred(["get", account]).status == 67)
    }

    @Test func rotateWithoutAnAccountOffersTheExpiredCredential() throws {
      let account = Harness.uniqueName("ttyrot")
      #expect(try Harness.mailcred(
        ["add", account, "--user", "t@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check",
         "--created", "2025-01-01", "--expires", "2025-06-01"],
        stdin: "old-\(Harness.canary)\n").status == 0)
      let fresh = "new-\(Harness.canary)"
      // Credentials other tests left expired or rejected are offered too, in account order: decline
      // those, take ours.
      let list = try Harness.mailcred(["list", "--json"])
      let reports = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
      let rejections: Set<String> = ["rejected", "app-password-required", "basic-auth-disabled"]
      let offered = reports.filter { report in
        report["state"] as? String == "current"
          && (report["status"] as? String == "expired" || rejections.contains(report["check_result"] as? String ?? ""))
      }.compactMap { $0["account"] as? String }
      #expect(offered.contains(account))
      var steps: [Step] = []
      for name in offered {
        steps += [Self.expect("Rotate \(name) ("), Self.send(name == account ? "y\n" : "n\n")]
        if name == account {
          steps += [Self.expect("New secret for \(account)"), Self.send(fresh + "\n"), Self.expect("Again"), Self.send(fresh + "\n")]
        }
      }
      let run = try onTerminal(["rotate", "--no-check"], steps)
      #expect(run.screen.contains("rotated \(account)"), "\(run.screen)")
      #expect(!run.screen.contains(Harness.canary))
      #expect(try Harness.mailcred(["get", account]).stdout == fresh + "\n")
      try Harness.mailcred(["remove", account, "--yes"])
    }
  }
}

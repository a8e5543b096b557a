import Foundation
import Testing

extension RealKeyringTests {
  /// Many programs writing one account at once (msmtp's passwordeval, a git push's store, a cron'd rotate,
  /// the user at the terminal), and a keyring daemon that stops answering.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
  struct WriterConcurrencyTests {
    struct Writer {
      var arguments: [[String]]  // commands run one after the other
      var stdin: [String?]
      var secret: String?        // what it writes, if it writes a new secret
    }

    func current(_ account: String) throws -> [[String: Any]] {
      let json = try Harness.mailcred(["list", "--json"]).stdout
      let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
      return rows.filter { $0["account"] as? String == account && $0["state"] as? String == "current" }
    }

    @Test func sixMixedWritersOfOneAccountFiftyRoundsNeverLoseOrDuplicateIt() throws {
      let account = Harness.uniqueName("race")
      let user = "\(account)@example.test"
      let host = "127.0.0.1:2525"
      #expect(try Harness.mailcred(["add", account, "--user", user, "--smtp", host, "--password-stdin", "--no-check"], stdin: "r0-\(Harness.canary)\n").status == 0)
      defer { _ = try? Harness.mailcred(["remove", account, "--yes"]) }
      var previous = "r0-\(Harness.canary)"
      var noCurrent = 0, duplicates = 0, foreign = 0, readerFailures: [String] = []
      var written: Set<String> = [previous]

      for round in 1...50 {
        let s = { (who: String) in "r\(round)-\(who)-\(Harness.canary)" }
        let replace = ["add", account, "--user", user, "--smtp", host, "--password-stdin", "--no-check", "--replace"]
        let helper = "protocol=smtp\nhost=\(host)\nusername=\(user)\n"
        let writers = [
          Writer(arguments: [replace], stdin: [s("add1") + "\n"], secret: s("add1")),
          Writer(arguments: [replace + ["--expires-in", "30d"]], stdin: [s("add2") + "\n"], secret: s("add2")),
          Writer(arguments: [["rotate", account, "--password-stdin", "--no-check"]], stdin: [s("rot1") + "\n"], secret: s("rot1")),
          Writer(arguments: [["rotate", account, "--password-stdin", "--no-check", "--expires-in", "60d"]], stdin: [s("rot2") + "\n"], secret: s("rot2")),
          Writer(arguments: [["credential-helper", "store"]], stdin: [helper + "password=\(s("git"))\n\n"], secret: s("git")),
          Writer(arguments: [["credential-helper", "erase"], ["restore", account]], stdin: [helper + "\n", nil], secret: nil),
        ]
        for writer in writers { if let secret = writer.secret { written.insert(secret) } }
        let outcomes = ResultBox(writers.count)
        let reads = ResultBox(8)
        DispatchQueue.concurrentPerform(iterations: writers.count + 1) { index in
          if index == writers.count {
            // A reader (msmtp's passwordeval) all the while: never an empty or torn secret.
            for read in 0..<8 { reads.set(read, try? Harness.mailcred(["get", account], deadline: 30)) }
            return
          }
          var last: Harness.Output?
          for (step, arguments) in writers[index].arguments.enumerated() {
            last = try? Harness.mailcred(arguments, stdin: writers[index].stdin[step], deadline: 60)
            if last?.status != 0 { break }
          }
          outcomes.set(index, last)
        }
        for read in reads.values {
          guard let read else { readerFailures.append("round \(round): get did not run"); continue }
          if read.status == 0 {
            let line = String(read.stdout.dropLast())
            if read.stdout.last != "\n" || !written.contains(line) { readerFailures.append("round \(round): get printed \(read.stdout.debugDescription)") }
          } else if !(read.status == 67 && read.stderr.contains("erased")) && read.status != 75 {
            // 67 "erased" is right between git's erase and the restore; 75 a pending rotation's window.
            readerFailures.append("round \(round): get \(read.status) \(read.stderr)")
          }
        }
        for (index, outcome) in outcomes.values.enumerated() {
          if let outcome, outcome.status != 0 {
            // A writer that lost says so, in one line.
            #expect(!outcome.stderr.isEmpty && outcome.stderr.split(separator: "\n").count <= 2, "writer \(index): \(outcome.stderr)")
          }
        }
        let currents = try current(account)
        if currents.isEmpty {
          noCurrent += 1
          let outputs = outcomes.values.enumerated().map { "\($0.offset): \($0.element?.status ?? -1) \($0.element?.stderr ?? "")" }
          let raw = try? Harness.run("/usr/bin/secret-tool", ["search", "--all", "--unlock", "account", account])
          let dump = (raw?.stdout ?? "") + (raw?.stderr ?? "")
          Issue.record("round \(round) ended with no current item; writers: \(outputs); keyring: \(dump.replacingOccurrences(of: Harness.canary, with: "CANARY"))")
        }
        if currents.count > 1 { duplicates += 1 }
        let final = try Harness.mailcred(["get", account])
        let secret = String(final.stdout.dropLast())
        let succeeded = Set(zip(writers, outcomes.values).compactMap { writer, outcome in outcome?.status == 0 ? writer.secret : nil })
        if !(succeeded.contains(secret) || secret == previous) { foreign += 1 }
        previous = secret
      }
      #expect(noCurrent == 0, "rounds that ended with no current item")
      #expect(duplicates == 0, "rounds that ended with two current items")
      #expect(foreign == 0, "rounds whose final secret is not one a successful writer wrote")
      #expect(readerFailures.isEmpty, "\(readerFailures.prefix(5))")
    }

    @Test func aStoppedKeyringDaemonGives69WithinTheDeadlineForReadsAndWrites() throws {
      let account = Harness.uniqueName("stopped")
      #expect(try Harness.mailcred(["add", account, "--user", "s@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], stdin: "kept-\(Harness.canary)\n").status == 0)
      let pid = try #require(try daemonPid())
      kill(pid, SIGSTOP)
      defer { kill(pid, SIGCONT) }
      let commands: [([String], String?)] = [
        (["get", account], nil), (["list"], nil),
        (["add", account + "-new", "--user", "s@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], "n-\(Harness.canary)\n"),
        (["remove", account, "--yes"], nil),
      ]
      for (arguments, input) in commands {
        let result = try Harness.mailcred(arguments, stdin: input, deadline: 30)
        #expect(result.status == 69, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.seconds < 12, "\(arguments): \(result.seconds) s")
        #expect(result.stderr.contains("did not answer"), "\(arguments): \(result.stderr)")
      }
      kill(pid, SIGCONT)
      #expect(try Harness.mailcred(["get", account]).stdout == "kept-\(Harness.canary)\n")
      try Harness.mailcred(["remove", account, "--yes"])
    }

    /// The harness's gnome-keyring-daemon, as recorded by scripts/test-env.
    func daemonPid() throws -> pid_t? { Harness.recordedPid("gnome-keyring-daemon") }
  }
}

import Foundation
import Testing

extension RealKeyringTests {
  /// The keyring failing under mailcred: killed, locked, gone. Each is a classified one-line error within
  /// seconds, and nothing stored is lost.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
  struct KeyringFaultTests {
    func add(_ account: String, _ secret: String) throws -> Harness.Output {
      try Harness.mailcred(
        ["add", account, "--user", "fault@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"],
        stdin: secret + "\n")
    }

    func script(_ name: String) throws -> Harness.Output {
      try Harness.run(Harness.scripts + "/harness/" + name, [try #require(Harness.directory)])
    }

    @Test func keyringKilledBetweenCommandsIs69AndLosesNothing() throws {
      let account = Harness.uniqueName("killed")
      let secret = "survives-\(Harness.canary)"
      #expect(try add(account, secret).status == 0)
      #expect(try script("keyring-kill").status == 0)
      var restarted = false
      defer { if !restarted { _ = try? script("keyring-start") } }
      for command in [["get", account], ["list"], ["show", account], ["remove", account, "--yes"], ["check", account]] {
        let result = try Harness.mailcred(command, deadline: 10)
        #expect(result.status == 69, "\(command): \(result.status) \(result.stderr)")
        #expect(result.seconds < 2, "\(command) took \(result.seconds) s")
        #expect(result.stderr.contains("no Secret Service"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stdout.isEmpty)
      }
      let refused = try add(Harness.uniqueName("killed-add"), "new-\(Harness.canary)")
      #expect(refused.status == 69)
      #expect(try script("keyring-start").status == 0)
      restarted = true
      let got = try Harness.mailcred(["get", account])
      #expect(got.status == 0)
      #expect(got.stdout == secret + "\n")
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test func lockedMidSessionRefusesEveryWriteAndLosesNothing() throws {
      let account = Harness.uniqueName("lockedmid")
      let secret = "kept-\(Harness.canary)"
      #expect(try add(account, secret).status == 0)
      try Harness.lockKeyring()
      var unlocked = false
      defer { if !unlocked { try? Harness.unlockKeyring() } }
      let writes: [([String], String?)] = [
        (["remove", account, "--yes"], nil),
        (["rotate", account, "--password-stdin", "--no-check"], "next-\(Harness.canary)\n"),
        (["add", account, "--user", "fault@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check", "--replace"], "other-\(Harness.canary)\n"),
        (["restore", account], nil),
        (["check", account], nil),
        // A live audit that could check nothing is not a clean one.
        (["audit"], nil),
      ]
      for (command, input) in writes {
        let result = try Harness.mailcred(command, stdin: input, deadline: 10)
        #expect(result.status == 69 || result.status == 65, "\(command): \(result.status) \(result.stderr)")
        #expect(result.seconds < 2)
        #expect(result.stderr.split(separator: "\n").count >= 1)
      }
      // Attributes stay readable while locked: list still answers, and says nothing secret.
      let list = try Harness.mailcred(["list"])
      #expect(list.status == 0)
      #expect(list.stdout.contains(account))
      try Harness.unlockKeyring()
      unlocked = true
      #expect(try Harness.mailcred(["get", account]).stdout == secret + "\n")
      let json = try Harness.mailcred(["list", "--json"]).stdout
      #expect(json.components(separatedBy: "\"\(account)\"").count == 2, "exactly one item")
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test func aConcurrentWriterDoesNotCorruptOrDuplicate() throws {
      // Another program (secret-tool) writes to the same collection while mailcred replaces a secret
      // over and over; in the end each account has exactly its last secret and one item.
      let account = Harness.uniqueName("writer")
      #expect(try add(account, "v0-\(Harness.canary)").status == 0)
      let group = DispatchGroup()
      group.enter()
      DispatchQueue.global().async {
        for i in 0..<10 {
          _ = try? Harness.run("/usr/bin/secret-tool", ["store", "--label=other", "other-app", "writer-\(i)"], stdin: "noise-\(i)")
        }
        group.leave()
      }
      for i in 1...10 {
        let replaced = try Harness.mailcred(
          ["add", account, "--user", "fault@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check", "--replace"],
          stdin: "v\(i)-\(Harness.canary)\n")
        #expect(replaced.status == 0)
      }
      group.wait()
      #expect(try Harness.mailcred(["get", account]).stdout == "v10-\(Harness.canary)\n")
      let json = try Harness.mailcred(["list", "--json"]).stdout
      #expect(json.components(separatedBy: "\"\(account)\"").count == 2, "exactly one item")
      for i in 0..<10 { _ = try? Harness.run("/usr/bin/secret-tool", ["clear", "other-app", "writer-\(i)"]) }
      try Harness.mailcred(["remove", account, "--yes"])
    }
  }

  /// Many mailcred processes at once on the real keyring.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
  struct ProcessConcurrencyTests {
    /// Runs `count` mailcred processes at once and returns their outputs in order.
    func parallel(_ count: Int, _ make: @escaping @Sendable (Int) -> ([String], String?)) -> [Harness.Output?] {
      let results = ResultBox(count)
      DispatchQueue.concurrentPerform(iterations: count) { index in
        let (arguments, input) = make(index)
        results.set(index, try? Harness.mailcred(arguments, stdin: input, deadline: 30))
      }
      return results.values
    }

    @Test func twentyConcurrentGetsAndFiveConcurrentReplacesRepeated() throws {
      let accounts = (0..<5).map { _ in Harness.uniqueName("conc") }
      for (i, account) in accounts.enumerated() {
        let added = try Harness.mailcred(
          ["add", account, "--user", "c\(i)@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"],
          stdin: "r0-\(i)-\(Harness.canary)\n")
        #expect(added.status == 0)
      }
      var errors = 0
      for round in 1...3 {
        let gets = parallel(20) { index in (["get", accounts[index % 5]], nil) }
        for (index, output) in gets.enumerated() {
          let expected = "r\(round - 1)-\(index % 5)-\(Harness.canary)\n"
          if output?.status != 0 || output?.stdout != expected { errors += 1 }
        }
        let replaces = parallel(5) { index in
          (["add", accounts[index], "--user", "c\(index)@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check", "--replace"],
           "r\(round)-\(index)-\(Harness.canary)\n")
        }
        errors += replaces.filter { $0?.status != 0 }.count
      }
      #expect(errors == 0)
      let json = try Harness.mailcred(["list", "--json"]).stdout
      for (i, account) in accounts.enumerated() {
        #expect(try Harness.mailcred(["get", account]).stdout == "r3-\(i)-\(Harness.canary)\n")
        #expect(json.components(separatedBy: "\"\(account)\"").count == 2, "\(account): exactly one item")
        try Harness.mailcred(["remove", account, "--yes"])
      }
    }

    @Test func fiveConcurrentRotationsOnDifferentAccounts() throws {
      let accounts = (0..<5).map { _ in Harness.uniqueName("crot") }
      for account in accounts {
        #expect(try Harness.mailcred(
          ["add", account, "--user", "r@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"],
          stdin: "before-\(Harness.canary)\n").status == 0)
      }
      let rotations = parallel(5) { index in
        (["rotate", accounts[index], "--password-stdin", "--no-check"], "after-\(index)-\(Harness.canary)\n")
      }
      #expect(rotations.allSatisfy { $0?.status == 0 })
      let json = try Harness.mailcred(["list", "--json"]).stdout
      for (index, account) in accounts.enumerated() {
        #expect(try Harness.mailcred(["get", account]).stdout == "after-\(index)-\(Harness.canary)\n")
        #expect(json.components(separatedBy: "\"\(account)\"").count == 2)
        try Harness.mailcred(["remove", account, "--yes"])
      }
    }
  }
}

/// Outputs of parallel processes, gathered under a lock.
final class ResultBox: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [Harness.Output?]
  init(_ count: Int) { storage = Array(repeating: nil, count: count) }
  func set(_ index: Int, _ value: Harness.Output?) { lock.withLock { storage[index] = value } }
  var values: [Harness.Output?] { lock.withLock { storage } }
}

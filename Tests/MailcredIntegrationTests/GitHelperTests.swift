import Foundation
import Testing

extension RealKeyringTests {
  /// The built binary as git runs it (`git-credential-mailcred OPERATION`, request on stdin) with the real
  /// keyring behind it: the protocol edge cases end to end, and the matching rules side by side with git's
  /// own `git credential-store` given the same credential and the same requests.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
  struct GitHelperTests {
    let port = 2525  // nothing listens: these tests never connect

    func helper(_ ws: ClientWorkspace, _ operation: String, _ input: [UInt8]) throws -> Harness.Output {
      try Harness.run(ws.path + "/bin/git-credential-mailcred", [operation], stdinBytes: input, environment: ws.environment)
    }

    func helper(_ ws: ClientWorkspace, _ operation: String, _ input: String) throws -> Harness.Output {
      try helper(ws, operation, Array(input.utf8))
    }

    func add(_ ws: ClientWorkspace, _ account: String, user: String, secret: String, extra: [String] = []) throws {
      let added = try ws.mailcred(
        ["add", account, "--user", user, "--smtp", "127.0.0.1:\(port)", "--password-stdin", "--no-check"] + extra,
        stdin: secret + "\n")
      #expect(added.status == 0, "add: \(added.stderr)")
    }

    func fields(_ text: String) -> [String: String] {
      var out: [String: String] = [:]
      for line in text.split(separator: "\n") {
        let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
      }
      return out
    }

    @Test(arguments: ["list", "approve", "capability", "GET", ""])
    func unknownOperationIsIgnoredWithExitZeroAndNothingPrinted(operation: String) throws {
      let ws = try ClientWorkspace("helper-op")
      let result = try helper(ws, operation, "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=x@example.test\npassword=p-\(Harness.canary)\n\n")
      #expect(result.status == 0)
      #expect(result.stdout.isEmpty && result.stderr.isEmpty)
    }

    enum Malformed: String, CaseIterable, CustomTestStringConvertible {
      case nulInValue, lineOf70000Bytes, lineWithoutEquals, invalidUTF8
      var bytes: [UInt8] {
        let head = Array("protocol=smtp\nhost=127.0.0.1:2525\n".utf8)
        switch self {
        case .nulInValue: return head + Array("username=a".utf8) + [0] + Array("b\n\n".utf8)
        case .lineOf70000Bytes: return head + Array("username=".utf8) + [UInt8](repeating: UInt8(ascii: "u"), count: 70000 - 9) + [0x0a, 0x0a]
        case .lineWithoutEquals: return head + Array("just some words\n\n".utf8)
        case .invalidUTF8: return head + Array("username=".utf8) + [0xff, 0xfe] + [0x0a, 0x0a]
        }
      }
      var testDescription: String { rawValue }
    }

    @Test(arguments: ["get", "store", "erase"], Malformed.allCases)
    func malformedInputIsAOneLineErrorExit65AndNothingOnStdout(operation: String, input: Malformed) throws {
      let ws = try ClientWorkspace("helper-bad")
      let result = try helper(ws, operation, input.bytes)
      #expect(result.status == 65)
      #expect(result.stdout.isEmpty)
      let lines = result.stderr.split(separator: "\n")
      #expect(lines.count == 1, "\(result.stderr)")
      #expect(result.stderr.hasPrefix("mailcred: credential input line 3"), "\(result.stderr)")
    }

    @Test func aLineOfExactly65535BytesIsAcceptedAndTheRequestAnswered() throws {
      let ws = try ClientWorkspace("helper-long")
      let user = Harness.uniqueName("long") + "@example.test"
      let account = Harness.uniqueName("long")
      try add(ws, account, user: user, secret: "long-\(Harness.canary)")
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      let unknownKey = "x-future=" + String(repeating: "v", count: 65535 - 9)
      let result = try helper(ws, "get", "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(user)\n\(unknownKey)\n\n")
      #expect(result.status == 0, "\(result.stderr)")
      #expect(fields(result.stdout)["password"] == "long-\(Harness.canary)")
    }

    @Test func requestsEndingAtEOFOrInCRLFAreAnswered() throws {
      let ws = try ClientWorkspace("helper-eof")
      let user = Harness.uniqueName("eof") + "@example.test"
      let account = Harness.uniqueName("eof")
      try add(ws, account, user: user, secret: "eof-\(Harness.canary)")
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      for input in ["protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(user)", "protocol=smtp\r\nhost=127.0.0.1:\(port)\r\nusername=\(user)\r\n\r\n"] {
        let result = try helper(ws, "get", input)
        #expect(result.status == 0)
        #expect(result.stdout == "username=\(user)\npassword=eof-\(Harness.canary)\n")
      }
    }

    @Test func getAnswersThePasswordExpiryAsUnixSeconds() throws {
      let ws = try ClientWorkspace("helper-expiry")
      let user = Harness.uniqueName("expiry") + "@example.test"
      let account = Harness.uniqueName("expiry")
      try add(ws, account, user: user, secret: "exp-\(Harness.canary)", extra: ["--created", "2026-01-01", "--expires", "2027-01-01"])
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      let result = try helper(ws, "get", "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(user)\n\n")
      #expect(result.status == 0)
      #expect(fields(result.stdout) == ["username": user, "password": "exp-\(Harness.canary)", "password_expiry_utc": "1798761600"])
    }

    /// One request, answered by mailcred and by git's own credential-store holding the same credential.
    struct Case: CustomTestStringConvertible, Sendable {
      var name: String
      var request: @Sendable (_ user: String, _ port: Int) -> String
      var hit: Bool
      var testDescription: String { name }
    }

    static let cases: [Case] = [
      Case(name: "protocol, host:port and username", request: { "protocol=smtp\nhost=127.0.0.1:\($1)\nusername=\($0)\n" }, hit: true),
      Case(name: "no username", request: { "protocol=smtp\nhost=127.0.0.1:\($1)\n" }, hit: true),
      Case(name: "another username", request: { "protocol=smtp\nhost=127.0.0.1:\($1)\nusername=other-\($0)\n" }, hit: false),
      Case(name: "empty username", request: { "protocol=smtp\nhost=127.0.0.1:\($1)\nusername=\n" }, hit: false),
      Case(name: "path-qualified", request: { "protocol=smtp\nhost=127.0.0.1:\($1)\npath=some/repo.git\nusername=\($0)\n" }, hit: false),
      Case(name: "another port", request: { "protocol=smtp\nhost=127.0.0.1:\($1 + 1)\nusername=\($0)\n" }, hit: false),
      Case(name: "another host", request: { "protocol=smtp\nhost=127.0.0.9:\($1)\nusername=\($0)\n" }, hit: false),
      Case(name: "https", request: { "protocol=https\nhost=127.0.0.1:\($1)\nusername=\($0)\n" }, hit: false),
      Case(name: "url=", request: { "url=smtp://\($0.replacingOccurrences(of: "@", with: "%40"))@127.0.0.1:\($1)\n" }, hit: true),
    ]

    @Test(arguments: cases)
    func getMatchesLikeGitsOwnCredentialStore(request: Case) throws {
      let ws = try ClientWorkspace("helper-match")
      let user = Harness.uniqueName("match") + "@example.test"
      let secret = "match-\(Harness.canary)"
      let account = Harness.uniqueName("match")
      try add(ws, account, user: user, secret: secret)
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      let store = ws.path + "/git-credentials"
      defer { try? FileManager.default.removeItem(atPath: store) }  // it holds the secret in clear
      let stored = try ws.run("/usr/bin/git", ["credential-store", "--file", store, "store"],
                              stdin: "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(user)\npassword=\(secret)\n\n")
      #expect(stored.status == 0)

      let input = request.request(user, port) + "\n"
      let ours = try helper(ws, "get", input)
      let gits = try ws.run("/usr/bin/git", ["credential-store", "--file", store, "get"], stdin: input)
      #expect(ours.status == 0 && gits.status == 0)
      #expect(ours.stderr.isEmpty, "\(ours.stderr)")
      #expect(fields(ours.stdout)["password"] == fields(gits.stdout)["password"], "mailcred and git's credential-store disagree")
      #expect(fields(ours.stdout)["username"] == fields(gits.stdout)["username"])
      if request.hit {
        #expect(fields(ours.stdout)["password"] == secret)
      } else {
        #expect(ours.stdout.isEmpty, "a miss prints nothing")
      }
    }

    @Test func severalUsersOnOneHostEachGetTheirOwnPasswordAndEraseTouchesOnlyTheNamedOne() throws {
      let ws = try ClientWorkspace("helper-users")
      let users = (0..<3).map { _ in Harness.uniqueName("multi") + "@example.test" }
      let accounts = users.map { _ in Harness.uniqueName("multi") }
      for (user, account) in zip(users, accounts) { try add(ws, account, user: user, secret: "for-\(user)-\(Harness.canary)") }
      defer { for account in accounts { _ = try? ws.mailcred(["remove", account, "--yes"]) } }

      for user in users {
        let got = try helper(ws, "get", "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(user)\n\n")
        #expect(fields(got.stdout) == ["username": user, "password": "for-\(user)-\(Harness.canary)"])
      }
      // With no username git takes the first answer; it must be one user's own pair, never a mix.
      let any = fields(try helper(ws, "get", "protocol=smtp\nhost=127.0.0.1:\(port)\n\n").stdout)
      let anyUser = try #require(any["username"])
      #expect(any["password"] == "for-\(anyUser)-\(Harness.canary)")

      let erased = try helper(ws, "erase", "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(users[1])\n\n")
      #expect(erased.status == 0 && erased.stdout.isEmpty)
      #expect(try helper(ws, "get", "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(users[1])\n\n").stdout.isEmpty)
      for index in [0, 2] {
        #expect(fields(try helper(ws, "get", "protocol=smtp\nhost=127.0.0.1:\(port)\nusername=\(users[index])\n\n").stdout)["password"] == "for-\(users[index])-\(Harness.canary)")
      }
      #expect(try ws.mailcred(["restore", accounts[1]]).status == 0)
    }

    @Test func storeOfANonMailPathOrEmptyUserRequestMakesAGitCredentialNeverAMailAccount() throws {
      let ws = try ClientWorkspace("helper-gitkind")
      let user = Harness.uniqueName("gitkind") + "@example.test"
      let host = Harness.uniqueName("gitkind") + ".example"
      let requests = [
        "protocol=https\nhost=\(host)\nusername=\(user)\npassword=p-\(Harness.canary)\n\n",  // not mail
        "protocol=smtp\nhost=\(host):\(port)\nusername=\npassword=p-\(Harness.canary)\n\n",  // empty user
        "protocol=smtp\nhost=\(host):\(port)\npath=x\nusername=\(user)\npassword=p-\(Harness.canary)\n\n",
      ]
      for request in requests {
        let stored = try helper(ws, "store", request)
        #expect(stored.status == 0 && stored.stdout.isEmpty && stored.stderr.isEmpty, "\(stored.stderr)")
        let got = try helper(ws, "get", request.replacingOccurrences(of: "password=p-\(Harness.canary)\n", with: ""))
        #expect(fields(got.stdout)["password"] == "p-\(Harness.canary)")
      }
      let listed = try ws.mailcred(["list", "--json"]).stdout
      #expect(listed.components(separatedBy: "\"kind\" : \"git\"").count >= 4, "\(listed)")
      // msmtp's own lookup (host + service=smtp) must never find a git credential.
      let msmtpLookup = try Harness.run("/usr/bin/secret-tool", ["search", "--all", "host", host, "service", "smtp"])
      #expect(msmtpLookup.stdout.isEmpty && !msmtpLookup.stderr.contains("label"))
      for request in requests {
        let erased = try helper(ws, "erase", request)
        #expect(erased.status == 0 && erased.stdout.isEmpty && erased.stderr.isEmpty)
      }
      #expect(!(try ws.mailcred(["list"]).stdout.contains(host)), "erase deletes git credentials")
    }
  }
}

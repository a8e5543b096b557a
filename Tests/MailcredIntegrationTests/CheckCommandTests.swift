import Foundation
import Testing

extension RealKeyringTests {
  /// `mailcred check` and `add`'s live verification against the harness's real Dovecot and aiosmtpd.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (keyring and mail servers)"))
  struct CheckCommandTests {
    static let user = "checker@example.test"
    static let password = "right-\(Harness.canary)-pw"

    /// The mail user exists once per run (set-password waits out Dovecot's one-second passwd-file cache).
    static let userReady: Bool = {
      (try? Harness.setPassword(user: user, password: password)) != nil
    }()

    init() throws {
      try #require(Self.userReady)
    }

    func add(_ account: String, secret: String, _ endpoint: [String], check: Bool = false, extra: [String] = []) throws -> Harness.Output {
      try Harness.mailcred(
        ["add", account, "--user", Self.user, "--password-stdin", "--ca-file", Harness.caFile, "--timeout", "10"]
          + endpoint + (check ? [] : ["--no-check"]) + extra,
        stdin: secret + "\n")
    }

    func check(_ account: String, _ extra: [String] = []) throws -> Harness.Output {
      try Harness.mailcred(["check", account, "--ca-file", Harness.caFile, "--timeout", "5"] + extra, deadline: 30)
    }

    func noLeak(_ output: Harness.Output) {
      #expect(!output.stdout.contains(Harness.canary) && !output.stderr.contains(Harness.canary), "secret leaked")
    }

    struct Server: CustomTestStringConvertible, Sendable {
      var name: String
      var options: @Sendable () -> [String]
      var testDescription: String { name }
    }

    static let servers: [Server] = [
      Server(name: "dovecot submission STARTTLS") { ["--smtp", "127.0.0.1:\(Harness.submissionPort)", "--smtp-security", "starttls"] },
      Server(name: "dovecot submissions implicit TLS") { ["--smtp", "127.0.0.1:\(Harness.submissionsPort)", "--smtp-security", "tls"] },
      Server(name: "dovecot IMAP STARTTLS") { ["--imap", "127.0.0.1:\(Harness.imapPort)", "--imap-security", "starttls"] },
      Server(name: "dovecot IMAPS") { ["--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"] },
      Server(name: "dovecot STARTTLS on 127.0.0.2 (no AUTH before TLS)") { ["--smtp", "127.0.0.2:\(Harness.submissionPort)", "--smtp-security", "starttls"] },
      Server(name: "aiosmtpd AUTH only after STARTTLS") { ["--smtp", "127.0.0.1:\(Harness.aiosmtpdPort)", "--smtp-security", "starttls"] },
    ]

    @Test(arguments: servers)
    func rightSecretIsOKAndWrongIsRejected(server: Server) throws {
      let good = Harness.uniqueName("good")
      #expect(try add(good, secret: Self.password, server.options()).status == 0)
      let ok = try check(good)
      #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
      #expect(ok.stdout.contains("  ok  "))
      noLeak(ok)

      let bad = Harness.uniqueName("bad")
      #expect(try add(bad, secret: "wrong-\(Harness.canary)", server.options()).status == 0)
      let rejected = try check(bad)
      #expect(rejected.status == 77, "\(rejected.stdout) \(rejected.stderr)")
      #expect(rejected.stdout.contains("rejected"))
      #expect(rejected.stdout.contains("hint: "))
      noLeak(rejected)

      // `list` shows the recorded results without going to the network.
      let list = try Harness.mailcred(["list", "--json"])
      let reports = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
      #expect(reports.first { $0["account"] as? String == good }?["check_result"] as? String == "ok")
      #expect(reports.first { $0["account"] as? String == bad }?["check_result"] as? String == "rejected")
      try Harness.mailcred(["remove", good, "--yes"])
      try Harness.mailcred(["remove", bad, "--yes"])
    }

    @Test func verdictsAgreeWithSwaks() throws {
      for (secret, expectedSwaks, expectedMailcred) in [(Self.password, Int32(0), Int32(0)), ("wrong-\(Harness.canary)", 28, 77)] {
        let account = Harness.uniqueName("swaks")
        #expect(try add(account, secret: secret, ["--smtp", "127.0.0.1:\(Harness.submissionPort)"]).status == 0)
        let ours = try check(account)
        // swaks reads the password from a --config file (mode 600, deleted right after), never its argv.
        let config = FileManager.default.temporaryDirectory.appendingPathComponent(Harness.uniqueName("swaks")).path
        try #require(FileManager.default.createFile(atPath: config, contents: Data("auth-user \(Self.user)\nauth-password \(secret)\n".utf8), attributes: [.posixPermissions: 0o600]))
        defer { try? FileManager.default.removeItem(atPath: config) }
        let swaks = try Harness.run(
          "/usr/bin/swaks",
          ["--config", config, "--server", "127.0.0.1", "--port", String(Harness.submissionPort), "--tls", "--quit-after", "AUTH",
           "--auth", "PLAIN", "--timeout", "5"])
        #expect(swaks.status == expectedSwaks, "swaks: \(swaks.stdout.suffix(300))")
        #expect(ours.status == expectedMailcred)
        try Harness.mailcred(["remove", account, "--yes"])
      }
    }

    @Test func anUnknownCAIsATLSFailureUntilTheCAIsGiven() throws {
      let account = Harness.uniqueName("ca")
      #expect(try add(account, secret: Self.password, ["--smtp", "127.0.0.1:\(Harness.submissionPort)"]).status == 0)
      let withoutCA = try Harness.mailcred(["check", account, "--timeout", "5"])
      #expect(withoutCA.status == 76)
      #expect(withoutCA.stdout.contains("tls-failed"))
      #expect(try check(account).status == 0)
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test func aCAInTheSystemsHashedDirectoryIsTrustedWithoutCAFile() throws {
      // The trust store is read from OpenSSL's hashed directory (SSL_CERT_DIR): a CA linked there by
      // `openssl rehash` is trusted with no --ca-file, and an empty directory trusts nothing.
      let account = Harness.uniqueName("hashdir")
      #expect(try add(account, secret: Self.password, ["--smtp", "127.0.0.1:\(Harness.submissionPort)"]).status == 0)
      let trusted = FileManager.default.temporaryDirectory.appendingPathComponent(Harness.uniqueName("certs")).path
      let empty = FileManager.default.temporaryDirectory.appendingPathComponent(Harness.uniqueName("nocerts")).path
      try FileManager.default.createDirectory(atPath: trusted, withIntermediateDirectories: true)
      try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
      defer {
        try? FileManager.default.removeItem(atPath: trusted)
        try? FileManager.default.removeItem(atPath: empty)
      }
      try FileManager.default.copyItem(atPath: Harness.caFile, toPath: trusted + "/harness-ca.pem")
      #expect(try Harness.run("/usr/bin/openssl", ["rehash", trusted]).status == 0)
      let ok = try Harness.mailcred(["check", account, "--timeout", "5"], environment: ["SSL_CERT_DIR": trusted, "SSL_CERT_FILE": nil])
      #expect(ok.status == 0, "\(ok.stdout)")
      let refused = try Harness.mailcred(["check", account, "--timeout", "5"], environment: ["SSL_CERT_DIR": empty, "SSL_CERT_FILE": nil])
      #expect(refused.status == 76)
      #expect(refused.stdout.contains("tls-failed"))
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test(arguments: ["WRONG_HOST", "EXPIRED", "SELFSIGNED"])
    func badCertificatesAreTLSFailures(which: String) throws {
      let account = Harness.uniqueName("cert")
      #expect(try add(account, secret: Self.password, ["--smtp", "127.0.0.1:\(Harness.port("TLS_\(which)"))"]).status == 0)
      let result = try check(account)
      #expect(result.status == 76, "\(result.stdout)")
      #expect(result.stdout.contains("tls-failed"))
      noLeak(result)
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test func closedPortIsRefusedAndUnknownNameIsDNS() throws {
      let refused = Harness.uniqueName("refused")
      #expect(try add(refused, secret: Self.password, ["--smtp", "127.0.0.1:1"]).status == 0)
      let r = try check(refused)
      #expect(r.status == 75)
      #expect(r.stdout.contains("refused"))
      let dns = Harness.uniqueName("dns")
      #expect(try add(dns, secret: Self.password, ["--smtp", "nonexistent.invalid:587"]).status == 0)
      let d = try check(dns)
      #expect(d.status == 75)
      #expect(d.stdout.contains("dns"))
      #expect(d.seconds < 10)
      try Harness.mailcred(["remove", refused, "--yes"])
      try Harness.mailcred(["remove", dns, "--yes"])
    }

    @Test func addRefusesARejectedSecretAndStoresAVerifiedOne() throws {
      let endpoint = ["--smtp", "127.0.0.1:\(Harness.submissionPort)", "--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"]
      let rejected = Harness.uniqueName("addbad")
      let refusedAdd = try add(rejected, secret: "wrong-\(Harness.canary)", endpoint, check: true)
      #expect(refusedAdd.status == 77)
      #expect(refusedAdd.stderr.contains("not stored"))
      noLeak(refusedAdd)
      #expect(try Harness.mailcred(["get", rejected]).status == 67)

      let verified = Harness.uniqueName("addgood")
      let stored = try add(verified, secret: Self.password, endpoint, check: true)
      #expect(stored.status == 0, "\(stored.stderr)")
      noLeak(stored)
      let show = try Harness.mailcred(["show", verified, "--json"])
      #expect(show.stdout.contains("\"check_result\" : \"ok\""))
      try Harness.mailcred(["remove", verified, "--yes"])
    }

    @Test func addStoresWithAWarningWhenTheServerIsUnreachable() throws {
      let account = Harness.uniqueName("addtemp")
      let stored = try add(account, secret: Self.password, ["--smtp", "127.0.0.1:1"], check: true)
      #expect(stored.status == 0)
      #expect(stored.stderr.contains("warning"))
      #expect(stored.stderr.contains("refused"))
      #expect(try Harness.mailcred(["get", account]).stdout == Self.password + "\n")
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test func checkJSONAndProtocolFilter() throws {
      let account = Harness.uniqueName("json")
      #expect(try add(account, secret: Self.password, ["--smtp", "127.0.0.1:\(Harness.submissionPort)", "--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"]).status == 0)
      let both = try check(account, ["--json"])
      let rows = try #require(try JSONSerialization.jsonObject(with: Data(both.stdout.utf8)) as? [[String: Any]])
      #expect(rows.map { $0["protocol"] as? String } == ["smtp", "imap"])
      #expect(rows.allSatisfy { $0["result"] as? String == "ok" && ($0["latency_ms"] as? Int ?? -1) >= 0 })
      let imapOnly = try check(account, ["--json", "--protocol", "imap"])
      let imapRows = try #require(try JSONSerialization.jsonObject(with: Data(imapOnly.stdout.utf8)) as? [[String: Any]])
      #expect(imapRows.count == 1)
      #expect(imapRows.first?["port"] as? Int == Harness.imapsPort)
      try Harness.mailcred(["remove", account, "--yes"])
    }

    @Test func checkOfAMissingAccountIs67() throws {
      #expect(try Harness.mailcred(["check", "no-such-account"]).status == 67)
      #expect(try Harness.mailcred(["check"]).status == 64)
    }
  }
}

import Foundation
import Testing

/// The OpenBao store's setup as a server meets it: the AppRole token cache, and a store setting that is
/// wrong. (Part of OpenBaoStoreTests: same prefix per test, same helpers, serialized with it.)
extension RealKeyringTests.OpenBaoStoreTests {
    /// A server's AppRole token is cached between processes: the next `get` does not log in again. A
    /// token the server revoked, and one that expires, are replaced by one fresh login.
    @Test func theAppRoleTokenIsCachedAndReplacedWhenRevokedOrExpired() throws {
      try add("relay", user: "cache@example.test", secret: "cache-\(Harness.canary)", check: false)
      let mount = "approle-\(prefix)"
      try #require(try Harness.bao(["auth", "enable", "-path=\(mount)", "approle"]).status == 0)
      let policy = """
        path "secret/data/\(prefix)/relay/*" { capabilities = ["read"] }
        path "secret/metadata/\(prefix)/relay/*" { capabilities = ["read", "list"] }
        """
      try #require(try Harness.bao(["policy", "write", "cache-\(prefix)", "-"], stdin: policy).status == 0)
      let server = try FleetServer(
        "cache", store: store, caFile: Harness.openBaoCA, approleMount: mount, policy: "cache-\(prefix)", user: "cache@example.test",
        bao: { try Harness.bao($0) })
      let cacheDir = server.ws.path + "/runtime/mailcred"
      func cached() throws -> Data? {
        let names = try FileManager.default.contentsOfDirectory(atPath: cacheDir).filter { $0.hasPrefix("openbao-token-") }
        return names.count == 1 ? FileManager.default.contents(atPath: cacheDir + "/" + names[0]) : nil
      }
      func get() throws {
        let got = try server.mailcred(["get", "relay"])
        #expect(got.status == 0 && got.stdout == "cache-\(Harness.canary)\n", "\(got.stderr)")
      }

      try get()
      let first = try #require(try cached(), "no token cached")
      #expect(try server.cachedTokens() == [0o600])
      try get()
      #expect(try cached() == first, "a second get logged in again")

      // Revoked behind its back: one 403, one new login, the answer, a new cache.
      let token = String(decoding: first.prefix { $0 != 10 }, as: UTF8.self)
      try #require(try Harness.bao(["write", "auth/token/revoke", "token=-"], stdin: token).status == 0)
      try get()
      let second = try #require(try cached())
      #expect(second != first)

      // A token about to expire is not used: a login instead (TTL 6 s, 5 s of margin).
      try #require(try Harness.bao(["write", "auth/\(mount)/role/\(server.role)", "token_policies=cache-\(prefix)", "token_ttl=6s", "token_max_ttl=6s"]).status == 0)
      try FileManager.default.removeItem(atPath: cacheDir)
      try get()
      let short = try #require(try cached())
      let deadline = Date().addingTimeInterval(1.5)
      while Date() < deadline { usleep(100_000) }  // the time the margin needs to pass: what is tested
      try get()
      #expect(try cached() != short, "an expiring token was used")
    }

    /// A store setting that is wrong is the user's to fix (78), never "the server is down" (69).
    @Test func aMisconfiguredStoreIs78() throws {
      let ws = try ClientWorkspace("bao-misconfigured")
      var env = ws.environment
      env["XDG_CONFIG_HOME"] = ws.path + "/config"
      env["MAILCRED_STORE"] = nil
      env["BAO_TOKEN"] = nil
      let cases = [
        ("store = https://127.0.0.1:\(Harness.openBaoPort)/secret/\(prefix)\n", "expected openbao+https://"),
        ("store = \(store)\ncafile = \(Harness.openBaoCA)\n", "unknown setting 'cafile'"),
        ("store = \(store)\nca-file = \(Harness.openBaoCA)\ntoken-file = \(ws.path)/missing-token\n", "missing-token"),
      ]
      for (config, message) in cases {
        try ws.write("config/mailcred/config", config)
        for command in [["get", "relay"], ["list"]] {
          let result = try Harness.mailcred(command, environment: env)
          #expect(result.status == 78 && result.stdout.isEmpty && result.stderr.contains(message), "\(command) with \(config): \(result.status) \(result.stderr)")
        }
      }
    }
}

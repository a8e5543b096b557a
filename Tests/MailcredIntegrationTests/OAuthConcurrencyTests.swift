import Foundation
import MailcredCore
import Testing

extension RealKeyringTests {
  /// `check` and `audit` verify oauth2 grants by refreshing them, all at once through the one verification
  /// service (issue 14): twenty grants whose token endpoint takes 1 s each cost about 1 s, not 20.
  @Suite(.enabled(if: OAuthServer.available, "needs scripts/test (keyring, Dovecot and the OAuth2 server)"))
  struct OAuthConcurrencyTests {
    let oauth = OAuthTests()

    @Test func twentyGrantsWithASlowTokenEndpointAreRefreshedAtOnce() throws {
      let user = try oauth.mailUser("oauth-twenty")
      let prefix = Harness.uniqueName("oauth-twenty")
      let accounts = (1...20).map { "\(prefix)-\($0)" }
      defer { for account in accounts { _ = try? Harness.mailcred(["remove", account, "--yes"]) } }
      for account in accounts {
        let authorized = try oauth.authorize(account, user: user, extra: ["--no-check"])
        try #require(authorized.status == 0, "authorize \(account): \(authorized.stderr)")
      }
      try OAuthServer.admin("/admin/config", ["user": user, "refresh_delay": "1"])

      // The server counts the refreshes waiting out their delay at one time: a sequential refresher would
      // show 1 however fast or slow this machine is. Not all 20 need to overlap: each refresh reads the
      // keyring first (one call at a time), so on a loaded machine the first may be done before the last
      // begins.
      let checked = try Harness.mailcred(["check"] + accounts + ["--ca-file", Harness.caFile, "--timeout", "20"], deadline: 120)
      #expect(checked.status == 0, "\(checked.stdout)\n\(checked.stderr)")
      #expect(checked.stdout.components(separatedBy: "\n").filter { $0.contains(" ok ") }.count == 40, "\(checked.stdout)")
      var stats = try OAuthServer.stats(user: user)
      #expect(stats["refresh_grants"] == 20, "\(stats)")
      #expect((stats["max_concurrent_refreshes"] ?? 0) >= 10, "check refreshed the grants one after another: \(stats)")
      // Twenty 1 s refreshes one after another take 20 s; at once about 1 s plus 40 logins.
      #expect(checked.seconds < 10, "check took \(checked.seconds) s")

      try OAuthServer.admin("/admin/reset-stats", ["user": user])
      let audited = try Harness.mailcred(["audit", "--json", "--ca-file", Harness.caFile, "--timeout", "20"], deadline: 120)
      let document = try JSONSerialization.jsonObject(with: Data(audited.stdout.utf8)) as? [String: Any]
      let rows = (document?["credentials"] as? [[String: Any]] ?? []).filter {
        (($0["credential"] as? [String: Any])?["account"] as? String).map(accounts.contains) ?? false
      }
      #expect(rows.count == 20)
      #expect(rows.allSatisfy { ($0["checks"] as? [[String: Any]])?.allSatisfy { $0["result"] as? String == "ok" } == true }, "\(rows)")
      stats = try OAuthServer.stats(user: user)
      #expect((stats["max_concurrent_refreshes"] ?? 0) >= 10, "audit refreshed the grants one after another: \(stats)")
    }
  }
}

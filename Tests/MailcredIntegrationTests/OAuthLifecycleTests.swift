import Foundation
import MailcredCore
import MailcredKeyring
import Testing

extension RealKeyringTests {
  /// What happens to a grant after `authorize`: the token endpoint's errors as Microsoft and Google send
  /// them (answered by the scripted OAuth2 server), and Microsoft's 90-day inactivity clock.
  @Suite(.enabled(if: OAuthServer.available, "needs scripts/test (keyring, Dovecot and the OAuth2 server)"))
  struct OAuthLifecycleTests {
    let oauth = OAuthTests()

    static let errors: [(name: String, phrase: String, status: Int32)] = [
      ("AADSTS700082", "expired after 90 days without use", 77), ("AADSTS50173", "password change", 77),
      ("AADSTS70043", "sign-in frequency", 77), ("AADSTS65001", "admin consent", 77),
      ("AADSTS50076", "multi-factor authentication", 77), ("AADSTS50079", "enrollment", 77),
      ("AADSTS7000218", "Allow public client flows", 77), ("AADSTS700016", "not registered in this tenant", 77),
      ("google_invalid_grant", "Testing mode loses its grants after 7 days", 77),
      ("google_unauthorized_client", "does not belong to this client", 77),
      ("temporarily_unavailable", "temporary failure", 75),
    ]

    @Test(arguments: errors)
    func eachTokenEndpointErrorIsClassifiedWithItsHintByCheckAndGet(error: (name: String, phrase: String, status: Int32)) throws {
      let user = try oauth.mailUser("oauth-err")
      let account = Harness.uniqueName("oauth-err")
      defer { oauth.remove(account) }
      // A one-second access token, stored unchecked: by the time of `get` it is due, and no cached token
      // can stand in for the refused refresh.
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "1"])
      #expect(try oauth.authorize(account, user: user, extra: ["--no-check"]).status == 0)
      try OAuthServer.admin("/admin/config", ["user": user, "refresh_error": error.name])

      let check = try Harness.mailcred(["check", account, "--ca-file", Harness.caFile, "--timeout", "5"])
      #expect(check.status == error.status, "\(error.name): \(check.stdout)\(check.stderr)")
      let hints = check.stdout.split(separator: "\n").filter { $0.hasPrefix("  hint: ") }
      #expect(hints.count == 2, "smtp and imap: \(check.stdout)")
      for hint in hints {
        #expect(hint.contains(error.phrase), "\(error.name): \(hint)")
        if error.name.hasPrefix("AADSTS") { #expect(hint.contains("(\(error.name))"), "\(hint)") }
        if error.status == 77 { #expect(hint.contains("mailcred authorize \(account)"), "\(hint)") }
      }
      let code = error.name.hasPrefix("AADSTS") ? error.name : error.name.replacingOccurrences(of: "google_", with: "")
      #expect(check.stdout.contains("token endpoint: ") && check.stdout.contains(code), "\(check.stdout)")

      let got = try Harness.mailcred(["get", account])
      #expect(got.status == error.status, "\(error.name): \(got.stderr)")
      #expect(got.stdout.isEmpty)
      #expect(got.stderr.hasPrefix("mailcred: ") && got.stderr.split(separator: "\n").count == 1, "\(got.stderr)")
      #expect(got.stderr.contains(error.phrase), "\(error.name): \(got.stderr)")
      #expect(try OAuthServer.stats(user: user)["scripted_errors"] == 2, "check and get each asked once")
    }

    /// Moves the grant's last refresh `days` into the past and makes it a Microsoft 365 grant (the dates
    /// are injected through the keyring, not waited for).
    @discardableResult
    func age(_ account: String, days: Double) throws -> Date {
      let store = CredentialStore(keyring: SecretServiceKeyring())
      let entry = try store.current(account: account)
      var credential = entry.credential
      credential.provider = "office365"
      let date = Date().addingTimeInterval(-days * 86400)
      credential.refreshed = date
      try store.update(entry, to: credential)
      return date
    }

    func refreshed(_ account: String) throws -> Date? {
      try CredentialStore(keyring: SecretServiceKeyring()).current(account: account).credential.refreshed
    }

    @Test func aMicrosoftGrantIdleFor85DaysWarnsInListShowAndAuditUntilCheckOrGetRefreshesIt() throws {
      let user = try oauth.mailUser("oauth-idle")
      let account = Harness.uniqueName("oauth-idle")
      defer { oauth.remove(account) }
      #expect(try oauth.authorize(account, user: user).status == 0)
      #expect(try Harness.mailcred(["list"]).stderr.contains(account) == false, "a fresh grant does not warn")
      let injected = try age(account, days: 85.2)

      let warning = "the OAuth2 grant of \(account) has not been refreshed for 85 days"
      let list = try Harness.mailcred(["list"])
      #expect(list.status == 0)
      #expect(list.stderr.contains("mailcred: warning: \(warning)"), "\(list.stderr)")
      #expect(list.stderr.contains("in 5 days") && list.stderr.contains("`mailcred check \(account)` refreshes it"), "\(list.stderr)")
      let listJSON = try Harness.mailcred(["list", "--json"])
      #expect(listJSON.stderr.contains(warning))
      #expect((try? JSONSerialization.jsonObject(with: Data(listJSON.stdout.utf8))) is [[String: Any]], "stdout stays JSON")
      let show = try Harness.mailcred(["show", account])
      #expect(show.stderr.contains(warning), "\(show.stderr)")
      #expect(show.stdout.contains("last refresh:") && show.stdout.contains(RFC3339.format(injected)), "\(show.stdout)")

      let offline = try Harness.mailcred(["audit", "--offline"])
      #expect(offline.stdout.contains("\(account): warning: \(warning)"), "\(offline.stdout)")
      let document = try #require(try JSONSerialization.jsonObject(with: Data(try Harness.mailcred(["audit", "--offline", "--json"]).stdout.utf8)) as? [String: Any])
      let row = try #require((document["credentials"] as? [[String: Any]])?.first { ($0["credential"] as? [String: Any])?["account"] as? String == account })
      #expect(row["grant_idle_days"] as? Int == 85)
      #expect(row["attention"] as? String == "warning")
      let nagios = try Harness.mailcred(["audit", "--offline", "--format", "nagios"])
      #expect(nagios.stdout.contains("OAuth2 grant idle 85 days") && nagios.stdout.contains("idle_grants=1;0;;0"), "\(nagios.stdout)")
      #expect(nagios.stdout.contains("\(account): warning: \(warning)"))
      #expect(nagios.status >= 1, "at least WARNING")

      // `check` refreshes the grant (and records it): the warning is gone.
      let check = try Harness.mailcred(["check", account, "--ca-file", Harness.caFile])
      #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
      #expect(try #require(try refreshed(account)).timeIntervalSinceNow > -60)
      #expect(!(try Harness.mailcred(["list"]).stderr.contains(account)))
      let shown = try Harness.mailcred(["show", account]).stdout.split(separator: "\n").first { $0.hasPrefix("last refresh:") }
      #expect(shown?.contains(AuditTests.day(0)) == true, "\(shown ?? "")")
      #expect(!(try Harness.mailcred(["audit", "--offline"]).stdout.contains(warning)))

      // So does a `get` that refreshes a due access token.
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "60"])
      #expect(try Harness.mailcred(["check", account, "--ca-file", Harness.caFile]).status == 0)  // stores a 60 s token
      try age(account, days: 86)
      #expect(try Harness.mailcred(["list"]).stderr.contains("\(account) has not been refreshed for 86 days"))
      #expect(try Harness.mailcred(["get", account]).status == 0)
      #expect(try #require(try refreshed(account)).timeIntervalSinceNow > -60)
      #expect(!(try Harness.mailcred(["list"]).stderr.contains(account)))
    }
  }
}

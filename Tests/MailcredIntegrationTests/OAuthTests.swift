import Foundation
import MailcredKeyring
import Testing

/// The harness's scripted OAuth2 server (scripts/harness/oauth2-server.py): HTTPS endpoints for mailcred,
/// plain-HTTP introspection for Dovecot and controls for the tests.
enum OAuthServer {
  static var port: Int { Harness.port("OAUTH2") }
  static var available: Bool { Harness.available && port != 0 && Harness.port("OAUTH2_INTROSPECT") != 0 }
  static var base: String { "https://127.0.0.1:\(port)" }
  static var control: String { "http://127.0.0.1:\(Harness.port("OAUTH2_INTROSPECT"))" }
  static var script: String { Harness.scripts + "/harness/oauth2-server.py" }

  /// The options that point `mailcred authorize` at this server (the harness CA trusts its certificate).
  static var endpoints: [String] {
    ["--authorization-endpoint", base + "/authorize", "--token-endpoint", base + "/token", "--device-endpoint",
     base + "/device", "--scope", "mail", "--ca-file", Harness.caFile]
  }

  /// POSTs `fields` to a control path (GET without fields); the JSON answer. `secret` fields go on stdin
  /// (tokens carry the leak marker and must be in no argv).
  @discardableResult
  static func admin(_ path: String, _ fields: [String: String] = [:], secret: [String: String] = [:]) throws -> [String: Any] {
    let pairs = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    let hidden = secret.map { "\($0.key)=\($0.value)\n" }.joined()
    let output = try Harness.run(
      "/usr/bin/python3", [script, "admin", control + path] + pairs + (secret.isEmpty ? [] : ["--stdin"]), stdin: hidden)
    let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
    return try #require(object as? [String: Any], "admin \(path): \(output.stdout) \(output.stderr)")
  }

  static func stats(user: String) throws -> [String: Int] {
    let answer = try admin("/admin/stats?user=\(user.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? user)")
    return answer.compactMapValues { ($0 as? NSNumber)?.intValue }
  }

  /// Whether `token` is live for `user` at the server.
  static func isLive(_ token: String, for user: String) throws -> Bool {
    let (active, email) = try introspect(token)
    return active && email == user
  }

  /// Whether the server considers `token` a live access token, and for whom (what Dovecot asks).
  static func introspect(_ token: String) throws -> (active: Bool, email: String?) {
    let answer = try admin("/introspect", secret: ["token": token])
    return (answer["active"] as? Bool ?? false, answer["email"] as? String)
  }
}

extension RunningMailcred {
  /// Polls stderr until `pattern` (a regular expression) matches; the first capture group. `authorize`
  /// prints the URL or the user code there, then waits.
  func await(_ pattern: String, within seconds: Double = 10) throws -> String {
    let regex = try NSRegularExpression(pattern: pattern)
    var found: String?
    _ = wait(for: {
      let text = stderr
      if let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
        let range = Range(match.range(at: match.numberOfRanges > 1 ? 1 : 0), in: text)
      {
        found = String(text[range])
      }
      return found != nil
    }, timeout: seconds)
    guard let found else {
      Issue.record("no /\(pattern)/ on stderr; got: \(stderr)")
      throw CancellationError()
    }
    return found
  }
}

extension RealKeyringTests {
  /// OAuth2 credentials end to end: `mailcred authorize` against the scripted OAuth2 server (browser and
  /// device flows), `get` refreshing tokens, `check` and `audit` through Dovecot's oauth2 passdb (which asks
  /// the same server whether a token is live), msmtp with `auth xoauth2`, and the git helper.
  @Suite(.enabled(if: OAuthServer.available, "needs scripts/test (keyring, Dovecot and the OAuth2 server)"))
  struct OAuthTests {
    /// A fresh mailbox: Dovecot's userdb needs the user; its password is never used (tokens are).
    func mailUser(_ prefix: String) throws -> String {
      let user = Harness.uniqueName(prefix) + "@example.test"
      try Harness.setPassword(user: user, password: "unused-\(Harness.canary)")
      return user
    }

    var servers: [String] {
      ["--smtp", "127.0.0.1:\(Harness.submissionPort)", "--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"]
    }

    /// `mailcred authorize` through the browser flow, with this test acting as the browser: it reads the
    /// printed URL and follows the authorization server's redirect back to mailcred's loopback listener.
    @discardableResult
    func authorize(_ account: String, user: String, clientID: String = "mail-client", extra: [String] = []) throws -> (status: Int32, stderr: String, browser: Harness.Output) {
      let run = try RunningMailcred(
        ["authorize", account, "--user", user, "--client-id", clientID, "--timeout", "10"] + OAuthServer.endpoints + servers + extra)
      let url = try run.await(#"(https://127\.0\.0\.1:\d+/authorize\?\S+)"#)
      let browser = try Harness.run("/usr/bin/python3", [OAuthServer.script, "browse", url, "--ca", Harness.caFile])
      let status = run.finish()
      #expect(!run.stderr.contains(Harness.canary), "authorize printed a token")
      #expect(run.stdout.isEmpty)
      return (status, run.stderr, browser)
    }

    func get(_ account: String) throws -> Harness.Output {
      try Harness.mailcred(["get", account])
    }

    func remove(_ account: String) {
      _ = try? Harness.mailcred(["remove", account, "--yes"])
    }

    // MARK: authorize

    @Test func browserFlowStoresAGrantWhoseAccessTokenDovecotAcceptsAndGetPrintsIt() throws {
      let user = try mailUser("oauth-code")
      let account = Harness.uniqueName("oauth-code")
      defer { remove(account) }
      let (status, stderr, browser) = try authorize(account, user: user)
      #expect(status == 0, "authorize: \(stderr)")
      #expect(browser.status == 0 && browser.stdout.contains("You can close this tab"), "browser: \(browser.stdout)")
      // The redirect URI was a loopback port and the authorization server verified the PKCE pair.
      #expect(stderr.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"))
      #expect(stderr.contains("code_challenge_method=S256"))
      #expect(try OAuthServer.stats(user: user)["code_grants"] == 1)

      let got = try get(account)
      #expect(got.status == 0, "get: \(got.stderr)")
      let token = got.stdout.trimmingCharacters(in: .newlines)
      #expect(got.stdout == token + "\n" && token.hasPrefix("at-"), "get printed \(got.stdout.debugDescription)")
      #expect(try OAuthServer.isLive(token, for: user))
      #expect(try OAuthServer.stats(user: user)["refresh_grants"] == nil, "a fresh token needs no refresh")

      let list = try Harness.mailcred(["list", "--json"])
      let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
      let row = try #require(rows.first { $0["account"] as? String == account })
      #expect(row["kind"] as? String == "oauth2")
      #expect(row["check_result"] as? String == "ok", "authorize verified the token with a live AUTH")
      #expect(!list.stdout.contains(Harness.canary))

      // The item: msmtp's lookup attribute left out (its secret is no password), the OAuth2 settings in
      // attributes, no token in any attribute.
      let items = try SecretServiceKeyring().search(["account": account])
      let attributes = try #require(items.first?.attributes)
      #expect(items.count == 1)
      #expect(attributes["kind"] == "oauth2" && attributes["service"] == nil)
      #expect(attributes["client-id"] == "mail-client" && attributes["scopes"] == "mail")
      #expect(attributes["token-endpoint"] == OAuthServer.base + "/token" && attributes["ca-file"] == Harness.caFile)
      #expect(!attributes.values.contains { $0.contains(Harness.canary) }, "a token in the keyring attributes")
      // `show` tells the grant's settings (Harness.mailcred asserts it prints no token).
      let show = try Harness.mailcred(["show", account])
      #expect(show.status == 0)
      #expect(show.stdout.contains("client id:") && show.stdout.contains("mail-client"))
      #expect(show.stdout.contains("token endpoint:"))
    }

    @Test func aDeclinedAuthorizationStoresNothing() throws {
      let user = try mailUser("oauth-deny")
      let account = Harness.uniqueName("oauth-deny")
      defer { remove(account) }
      let (status, stderr, _) = try authorize(account, user: user, clientID: "deny")
      #expect(status == 77, "authorize: \(stderr)")
      #expect(stderr.contains("declined (access_denied)"))
      #expect(try get(account).status == 67)
    }

    @Test func aTokenForAnotherMailboxIsRejectedByDovecotAndNotStored() throws {
      let user = try mailUser("oauth-wrong")
      let account = Harness.uniqueName("oauth-wrong")
      defer { remove(account) }
      // The person signed in to the identity provider as someone else.
      try OAuthServer.admin("/admin/config", ["user": user, "email": "someone-else@example.test"])
      let (status, stderr, _) = try authorize(account, user: user)
      #expect(status == 77, "authorize: \(stderr)")
      #expect(stderr.contains("rejected") && stderr.contains("not stored"))
      #expect(try get(account).status == 67)
    }

    @Test func deviceFlowWaitsThroughTwoAuthorizationPendingPollsThenStoresTheGrant() throws {
      let user = try mailUser("oauth-device")
      let account = Harness.uniqueName("oauth-device")
      defer { remove(account) }
      let run = try RunningMailcred(
        ["authorize", account, "--device", "--user", user, "--client-id", "tv-client", "--timeout", "10"] + OAuthServer.endpoints + servers)
      let code = try run.await(#"enter the code ([A-Z]{4}-[A-Z]{4})"#)
      // The user takes a while: approve only after mailcred was told "authorization_pending" twice.
      let deadline = Date().addingTimeInterval(15)
      var pending = 0
      while pending < 2 && Date() < deadline {
        pending = (try OAuthServer.admin("/admin/device?user_code=\(code)")["pending"] as? NSNumber)?.intValue ?? 0
        Thread.sleep(forTimeInterval: 0.02)
      }
      #expect(pending == 2)
      try OAuthServer.admin("/admin/approve", ["user_code": code, "user": user])
      #expect(run.finish() == 0, "authorize --device: \(run.stderr)")
      let polls = try OAuthServer.stats(user: code)
      #expect(polls["device_pending"] == 2, "\(polls)")
      #expect(polls["slow_down"] == nil, "mailcred waited the interval between polls")
      #expect(try OAuthServer.stats(user: user)["device_grants"] == 1)
      let got = try get(account)
      #expect(got.status == 0)
      #expect(try OAuthServer.isLive(got.stdout.trimmingCharacters(in: .newlines), for: user))
    }

    // MARK: get

    @Test func tenConcurrentGetsOfAnExpiringTokenRefreshItExactlyOnce() throws {
      let user = try mailUser("oauth-conc")
      let account = Harness.uniqueName("oauth-conc")
      defer { remove(account) }
      // The first access token lives 60 s: inside the 5-minute margin, so the next get must refresh.
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "60"])
      #expect(try authorize(account, user: user).status == 0)
      // Slow refreshes widen the window in which the other nine find the token stale.
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "3600", "refresh_delay": "0.5"])

      let outputs = try (0..<10).map { _ in try RunningMailcred(["get", account]) }
      let statuses = outputs.map { $0.finish() }
      #expect(statuses == Array(repeating: 0, count: 10), "\(outputs.map(\.stderr))")
      let tokens = Set(outputs.map(\.stdout))
      #expect(tokens.count == 1, "every get printed the one refreshed token: \(tokens)")
      let stats = try OAuthServer.stats(user: user)
      #expect(stats["refresh_grants"] == 1, "\(stats)")
      #expect(stats["invalid_grant"] == nil, "\(stats)")
      let token = try #require(tokens.first).trimmingCharacters(in: .newlines)
      #expect(try OAuthServer.isLive(token, for: user))
    }

    @Test(arguments: [(200, true), (400, false)])
    func getRefreshesOnlyWithinFiveMinutesOfExpiry(lifetime: Int, refreshes: Bool) throws {
      let user = try mailUser("oauth-margin")
      let account = Harness.uniqueName("oauth-margin")
      defer { remove(account) }
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": String(lifetime)])
      #expect(try authorize(account, user: user).status == 0)
      // A refresh, if any, brings an hour-long token: the second get then uses it as is.
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "3600"])
      let first = try get(account)
      let second = try get(account)
      #expect(first.status == 0 && second.status == 0)
      #expect(first.stdout == second.stdout)
      #expect(try OAuthServer.stats(user: user)["refresh_grants"] == (refreshes ? 1 : nil))
    }

    @Test func aRotatedRefreshTokenIsStoredAndTheNextRefreshUsesIt() throws {
      let user = try mailUser("oauth-rotate")
      let account = Harness.uniqueName("oauth-rotate")
      defer { remove(account) }
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "60"])
      #expect(try authorize(account, user: user).status == 0)
      // Every refresh rotates the refresh token and revokes the old one at once: three refreshes in a row
      // work only if each new refresh token was stored.
      for round in 1...3 {
        let got = try get(account)
        #expect(got.status == 0, "round \(round): \(got.stderr)")
        #expect(try OAuthServer.introspect(got.stdout.trimmingCharacters(in: .newlines)).active)
      }
      let stats = try OAuthServer.stats(user: user)
      #expect(stats["refresh_grants"] == 3 && stats["invalid_grant"] == nil, "\(stats)")
    }

    // MARK: check and audit

    @Test(arguments: ["xoauth2", "oauthbearer"])
    func checkAuthenticatesWithTheMechanismThroughDovecotAndReportsARefusedToken(mechanism: String) throws {
      let user = try mailUser("oauth-check")
      let account = Harness.uniqueName("oauth-check")
      defer { remove(account) }
      #expect(try authorize(account, user: user).status == 0)
      let ok = try Harness.mailcred(["check", account, "--mechanism", mechanism, "--ca-file", Harness.caFile])
      #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
      #expect(ok.stdout.components(separatedBy: "  ok  ").count == 3, "smtp and imap ok: \(ok.stdout)")

      // The grant now yields tokens for another identity: Dovecot refuses them after introspection.
      try OAuthServer.admin("/admin/config", ["user": user, "email": "intruder@example.test"])
      let rejected = try Harness.mailcred(["check", account, "--mechanism", mechanism, "--ca-file", Harness.caFile])
      #expect(rejected.status == 77, "\(rejected.stdout)\(rejected.stderr)")
      #expect(rejected.stdout.contains("smtp 127.0.0.1:\(Harness.submissionPort) starttls  rejected"))
      #expect(rejected.stdout.contains("535 5.7.8"))
      #expect(rejected.stdout.contains("NO [AUTHENTICATIONFAILED]"))
      // The server's error challenge was answered the mechanism's way and shows in the detail.
      #expect(rejected.stdout.contains(mechanism == "xoauth2" ? #""schemes":"bearer""# : #""status":"invalid_token""#), "\(rejected.stdout)")
      #expect(rejected.stdout.contains("mailcred authorize \(account)"))
      #expect(!rejected.stdout.contains(Harness.canary) && !rejected.stderr.contains(Harness.canary), "a token leaked")
    }

    @Test func aRevokedRefreshTokenIsReportedByAuditAndGetWithTheAuthorizeHint() throws {
      let user = try mailUser("oauth-revoked")
      let account = Harness.uniqueName("oauth-revoked")
      defer { remove(account) }
      #expect(try authorize(account, user: user).status == 0)
      try OAuthServer.admin("/admin/revoke", ["user": user])

      let audit = try Harness.mailcred(["audit", "--json", "--ca-file", Harness.caFile])
      #expect(audit.status == 77)
      let document = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any])
      let rows = try #require(document["credentials"] as? [[String: Any]])
      let row = try #require(rows.first { ($0["credential"] as? [String: Any])?["account"] as? String == account })
      let checks = try #require(row["checks"] as? [[String: Any]])
      #expect(checks.count == 2)
      for check in checks {
        #expect(check["result"] as? String == "rejected")
        #expect((check["detail"] as? String)?.contains("invalid_grant") == true, "\(check)")
        #expect((check["hint"] as? String)?.contains("mailcred authorize \(account)") == true, "\(check)")
      }
      let table = try Harness.mailcred(["audit", "--ca-file", Harness.caFile])
      #expect(table.stdout.contains("invalid_grant") && table.stdout.contains("`mailcred authorize \(account)`"))

      // The cached access token is gone once it is due: get says why, with nothing on stdout.
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "60"])
      let reauthorized = Harness.uniqueName("oauth-revoked2")
      defer { remove(reauthorized) }
      #expect(try authorize(reauthorized, user: user).status == 0)
      try OAuthServer.admin("/admin/revoke", ["user": user])
      let got = try get(reauthorized)
      #expect(got.status == 77)
      #expect(got.stdout.isEmpty)
      #expect(got.stderr.contains("invalid_grant") && got.stderr.contains("mailcred authorize \(reauthorized)"))
    }

    @Test func authorizingAnAppPasswordAccountAgainReplacesItWithTheGrant() throws {
      let user = try mailUser("oauth-migrate")
      let account = Harness.uniqueName("oauth-migrate")
      defer { remove(account) }
      let added = try Harness.mailcred(
        ["add", account, "--user", user, "--kind", "app-password", "--password-stdin", "--no-check"] + servers,
        stdin: "old-\(Harness.canary)\n")
      #expect(added.status == 0)
      // No --user and no servers: authorize takes them from the stored credential.
      let run = try RunningMailcred(["authorize", account, "--client-id", "mail-client", "--timeout", "10"] + OAuthServer.endpoints)
      let url = try run.await(#"(https://127\.0\.0\.1:\d+/authorize\?\S+)"#)
      _ = try Harness.run("/usr/bin/python3", [OAuthServer.script, "browse", url, "--ca", Harness.caFile])
      #expect(run.finish() == 0, "\(run.stderr)")
      #expect(run.stderr.contains("replaced the app-password of \(account)"))
      let got = try get(account)
      #expect(got.stdout.hasPrefix("at-") && !got.stdout.contains("old-"))
      let list = try Harness.mailcred(["list", "--json"])
      let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
      #expect(rows.filter { $0["account"] as? String == account }.map { $0["kind"] as? String } == ["oauth2"])
    }

    // MARK: clients

    @Test func msmtpWithAuthXOAuth2AndPasswordevalMailcredGetSendsThroughDovecot() throws {
      let user = try mailUser("oauth-msmtp")
      let account = Harness.uniqueName("oauth-msmtp")
      defer { remove(account) }
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "60"])
      #expect(try authorize(account, user: user).status == 0)
      let directory = try #require(Harness.directory) + "/oauth-clients/" + account
      try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
      try? FileManager.default.createSymbolicLink(atPath: directory + "/bin/mailcred", withDestinationPath: try #require(Harness.binary))
      let config = directory + "/msmtprc"
      try """
        defaults
        tls on
        tls_trust_file \(Harness.caFile)

        account \(account)
        host 127.0.0.1
        port \(Harness.submissionPort)
        tls_starttls on
        auth xoauth2
        user \(user)
        from \(user)
        passwordeval "mailcred get \(account)"

        """.write(toFile: config, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config)
      let marker = Harness.uniqueName("oauth-msg")
      let sent = try Harness.run(
        "/usr/bin/msmtp", ["-C", config, "-a", account, "--", "rcpt@example.test"],
        stdin: "From: \(user)\nTo: rcpt@example.test\nSubject: \(marker)\n\nsent with an OAuth2 token\n",
        environment: ["PATH": directory + "/bin:" + (Harness.environment["PATH"] ?? "/usr/bin:/bin")])
      #expect(sent.status == 0, "msmtp: \(sent.stderr)")
      #expect(!sent.stderr.contains(Harness.canary) && !sent.stdout.contains(Harness.canary))
      // msmtp's passwordeval ran `mailcred get`, which refreshed the 60-second token first.
      #expect(try OAuthServer.stats(user: user)["refresh_grants"] == 1)
      let sink = (Harness.environment["MAILCRED_TEST_SINK"] ?? "") + "/new"
      var arrived = false
      for _ in 0..<200 where !arrived {
        arrived = ((try? FileManager.default.contentsOfDirectory(atPath: sink)) ?? []).contains { name in
          (try? String(contentsOfFile: sink + "/" + name, encoding: .utf8))?.contains(marker) == true
        }
        if !arrived { Thread.sleep(forTimeInterval: 0.05) }
      }
      #expect(arrived, "the message never reached the sink")
    }

    /// Cyrus SASL's XOAUTH2 plugin (Debian: libsasl2-modules-kdexoauth2) takes the token as the password.
    static let saslXOAuth2Plugin = ["/usr/lib/x86_64-linux-gnu/sasl2", "/usr/lib/aarch64-linux-gnu/sasl2", "/usr/lib/sasl2"]
      .contains { FileManager.default.fileExists(atPath: $0 + "/libkdexoauth2.so") || FileManager.default.fileExists(atPath: $0 + "/libxoauth2.so") }

    // Not skipped when the plugin is missing: scripts/harness/ensure-packages installs it, so its absence is
    // a broken environment, reported as a failure.
    @Test func mbsyncWithAuthMechsXOAuth2AndPassCmdMailcredGetSyncsFromDovecot() throws {
      try #require(Self.saslXOAuth2Plugin, "no Cyrus SASL XOAUTH2 plugin: install libsasl2-modules-kdexoauth2 (scripts/harness/ensure-packages does)")
      let user = try mailUser("oauth-mbsync")
      let account = Harness.uniqueName("oauth-mbsync")
      defer { remove(account) }
      #expect(try authorize(account, user: user).status == 0)
      let marker = Harness.uniqueName("oauth-sync")
      let config = try #require(Harness.directory) + "/dovecot/dovecot.conf"
      let saved = try Harness.run("/usr/bin/doveadm", ["-c", config, "save", "-u", user], stdin: "From: x@example.test\nSubject: \(marker)\n\nsynced\n")
      #expect(saved.status == 0, "doveadm save: \(saved.stderr)")
      let directory = try #require(Harness.directory) + "/oauth-clients/" + account
      try FileManager.default.createDirectory(atPath: directory + "/mail", withIntermediateDirectories: true)
      let rc = directory + "/mbsyncrc"
      try """
        IMAPAccount \(account)
        Host 127.0.0.1
        Port \(Harness.imapsPort)
        User \(user)
        PassCmd "\(try #require(Harness.binary)) get \(account)"
        AuthMechs XOAUTH2
        SSLType IMAPS
        CertificateFile \(Harness.caFile)

        IMAPStore remote
        Account \(account)

        MaildirStore local
        Path \(directory)/mail/
        Inbox \(directory)/mail/INBOX

        Channel inbox
        Far :remote:
        Near :local:
        Patterns INBOX
        Create Near
        SyncState *

        """.write(toFile: rc, atomically: true, encoding: .utf8)
      let log = Mail.DovecotLog()
      let synced = try Harness.run("/usr/bin/mbsync", ["-c", rc, "-a"])
      #expect(synced.status == 0, "mbsync: \(synced.stderr)")
      #expect(!synced.stderr.contains(Harness.canary) && !synced.stdout.contains(Harness.canary))
      let inbox = directory + "/mail/INBOX/new"
      let names = (try? FileManager.default.contentsOfDirectory(atPath: inbox)) ?? []
      #expect(names.contains { (try? String(contentsOfFile: inbox + "/" + $0, encoding: .utf8))?.contains(marker) == true })
      #expect(log.newLines().contains("user=<\(user)>, method=XOAUTH2"))
    }

    @Test func gitHelperAnswersBearerWhenGitAnnouncesAuthtypeAndThePasswordOtherwise() throws {
      let user = try mailUser("oauth-git")
      let account = Harness.uniqueName("oauth-git")
      defer { remove(account) }
      #expect(try authorize(account, user: user).status == 0)
      let request = "protocol=smtp\nhost=127.0.0.1:\(Harness.submissionPort)\nusername=\(user)\n\n"
      let token = try get(account).stdout.trimmingCharacters(in: .newlines)

      let plain = try Harness.mailcred(["credential-helper", "get"], stdin: request)
      #expect(plain.status == 0)
      #expect(plain.stdout == "username=\(user)\npassword=\(token)\n")

      let bearer = try Harness.mailcred(["credential-helper", "get"], stdin: "capability[]=authtype\n" + request)
      #expect(bearer.status == 0)
      #expect(bearer.stdout == "capability[]=authtype\nusername=\(user)\nauthtype=Bearer\nephemeral=1\ncredential=\(token)\n")

      // What git reports back (store, erase) never replaces or erases the grant.
      #expect(try Harness.mailcred(["credential-helper", "store"], stdin: request.dropLast() + "password=\(token)\n\n").status == 0)
      #expect(try Harness.mailcred(["credential-helper", "erase"], stdin: request).status == 0)
      #expect(try get(account).stdout == token + "\n")
    }
  }
}

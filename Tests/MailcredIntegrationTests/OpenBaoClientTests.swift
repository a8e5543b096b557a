import Foundation
import Testing

extension RealKeyringTests {
  /// The commands beyond the keyring basics on the OpenBao store, through the binary and the real clients:
  /// doctor and import (msmtp then sends with the imported secret), git's credential protocol (approve,
  /// fill, reject, restore), and an OAuth2 grant that `get` refreshes. The store is chosen by the
  /// workspace's config file only (as on a user's machine), so every child (msmtp, git) finds it too.
  /// Serialized with OpenBaoStoreTests (one of them seals the dev server).
  @Suite(.enabled(if: OAuthServer.available, "needs scripts/test (OpenBao, mail and OAuth2 servers)"))
  struct OpenBaoClientTests {
    let prefix = Harness.uniqueName("clients")

    /// A workspace whose mailcred config names the dev server's store under this test's prefix.
    func workspace(_ name: String) throws -> (ws: ClientWorkspace, env: [String: String?]) {
      let ws = try ClientWorkspace(name)
      let token = try ws.write("etc/bao-token", Harness.rootToken + "\n")
      try ws.write(
        "config/mailcred/config",
        "store = \(Harness.openBaoStore(prefix: prefix))\nca-file = \(Harness.openBaoCA)\ntoken-file = \(token)\n")
      var env = ws.environment
      env["XDG_CONFIG_HOME"] = ws.path + "/config"
      env["XDG_STATE_HOME"] = ws.path + "/state"
      env["MAILCRED_STORE"] = nil
      env["BAO_TOKEN"] = nil
      env["BAO_CACERT"] = nil
      return (ws, env)
    }

    /// The item keys OpenBao holds for an account (live or deleted), as the root token sees them.
    func keys(_ account: String) throws -> [String] {
      let listed = try Harness.bao(["kv", "list", "-format=json", "secret/\(prefix)/\(account)"])
      guard listed.status == 0 else { return [] }
      return (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String] ?? []).filter { !$0.hasPrefix(".") }
    }

    func run(_ env: [String: String?], _ program: String, _ arguments: [String], stdin: String? = nil) throws -> Harness.Output {
      try Harness.run("/usr/bin/setsid", ["-w", program] + arguments, stdin: stdin, environment: env)
    }

    @Test func doctorAndImportMoveAnMsmtpPasswordIntoOpenBaoAndMsmtpSends() throws {
      let (ws, env) = try workspace("bao-import")
      let user = Harness.uniqueName("bao-import") + "@example.test"
      let password = "imp-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      try Harness.setPassword(user: user, password: password)
      let account = Harness.uniqueName("imported")
      let rc = try ws.write(".msmtprc", """
        defaults
        tls on
        tls_trust_file \(Harness.caFile)

        account \(account)
        host 127.0.0.1
        port \(Harness.submissionPort)
        auth on
        user \(user)
        from \(user)
        password \(password)

        account default : \(account)

        """)

      let before = try Harness.mailcred(["doctor", "msmtp"], environment: env)
      #expect(before.status == 78 && before.stdout.contains("plaintext password"), "doctor: \(before.stdout) \(before.stderr)")
      let imported = try Harness.mailcred(["import", "msmtp", "--timeout", "10"], environment: env)
      #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
      #expect(try keys(account).count == 1, "the secret is not in OpenBao")
      let text = try String(contentsOfFile: rc, encoding: .utf8)
      #expect(!text.contains(password) && text.contains("passwordeval \"mailcred get \(account)\""))

      let marker = Mail.marker("bao-imported")
      let sent = try run(env, "/usr/bin/msmtp", ["--", "rcpt@example.test"], stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker))
      expectNoLeak(sent, "msmtp")
      #expect(sent.status == 0, "msmtp: \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil)
      let after = try Harness.mailcred(["doctor"], environment: env)
      #expect(after.status == 0, "doctor after import: \(after.stdout)")
      #expect(try Harness.mailcred(["import", "--undo"], environment: env).status == 0)
      try FileManager.default.removeItem(atPath: rc)  // holds the secret again, by design
    }

    @Test func gitApproveFillRejectAndRestoreGoThroughOpenBao() throws {
      let (_, env) = try workspace("bao-git")
      let host = "127.0.0.1:\(Harness.submissionPort)"
      let user = Harness.uniqueName("bao-git") + "@example.test"
      let secret = "git-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      func git(_ operation: String, _ input: String) throws -> Harness.Output {
        try run(env, "/usr/bin/git", ["-c", "credential.helper=mailcred", "credential", operation], stdin: input)
      }
      let request = "protocol=smtp\nhost=\(host)\nusername=\(user)\n\n"

      let approved = try git("approve", "protocol=smtp\nhost=\(host)\nusername=\(user)\npassword=\(secret)\n\n")
      #expect(approved.status == 0 && approved.stderr.isEmpty, "approve: \(approved.stderr)")
      expectNoLeak(approved, "git credential approve")
      #expect(try keys("\(user)@127.0.0.1").count == 1, "approve stored nothing in OpenBao")
      let filled = try git("fill", request)
      #expect(filled.status == 0 && filled.stdout.contains("password=\(secret)\n"), "fill: \(filled.stderr)")

      // reject = erase: kept recoverable; fill then finds nothing (git would prompt: no terminal here).
      #expect(try git("reject", "protocol=smtp\nhost=\(host)\nusername=\(user)\npassword=\(secret)\n\n").status == 0)
      let refused = try git("fill", request)
      #expect(refused.status != 0 && !refused.stdout.contains(secret))
      let restored = try Harness.mailcred(["restore", "\(user)@127.0.0.1"], environment: env)
      #expect(restored.status == 0, "restore: \(restored.stderr)")
      #expect(try git("fill", request).stdout.contains("password=\(secret)\n"))
    }

    @Test func anOAuth2GrantOnOpenBaoIsRefreshedByGetOnceAndKept() throws {
      let (_, env) = try workspace("bao-oauth")
      let user = Harness.uniqueName("bao-oauth") + "@example.test"
      try Harness.setPassword(user: user, password: "unused-\(Harness.canary)")
      let account = Harness.uniqueName("bao-oauth")
      // The first access token lives 60 s: inside the 5-minute margin, so the next get refreshes it.
      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "60"])
      let plain = env.compactMapValues { $0 }
      let run = try RunningMailcred(
        ["authorize", account, "--user", user, "--client-id", "mail-client", "--timeout", "10"] + OAuthServer.endpoints
          + ["--smtp", "127.0.0.1:\(Harness.submissionPort)", "--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"],
        environment: plain.merging(["MAILCRED_STORE": "", "BAO_TOKEN": "", "BAO_CACERT": ""]) { $1 })
      let url = try run.await(#"(https://127\.0\.0\.1:\d+/authorize\?\S+)"#)
      _ = try Harness.run("/usr/bin/python3", [OAuthServer.script, "browse", url, "--ca", Harness.caFile])
      #expect(run.finish() == 0, "authorize: \(run.stderr)")
      #expect(!run.stderr.contains(Harness.canary))
      #expect(try keys(account).count == 1, "the grant is not in OpenBao")

      try OAuthServer.admin("/admin/config", ["user": user, "access_lifetime": "3600"])
      let first = try Harness.mailcred(["get", account], environment: env)
      #expect(first.status == 0, "get: \(first.stderr)")
      let second = try Harness.mailcred(["get", account], environment: env)
      #expect(second.stdout == first.stdout, "the refreshed grant was not stored")
      #expect(try OAuthServer.stats(user: user)["refresh_grants"] == 1)
      #expect(try OAuthServer.isLive(first.stdout.trimmingCharacters(in: .newlines), for: user))
      // The refresh rewrote the grant in place of the old one: one live item.
      let shown = try Harness.mailcred(["show", account, "--json"], environment: env)
      #expect(shown.status == 0 && shown.stdout.contains("oauth2"), "\(shown.stderr)")
    }
  }
}

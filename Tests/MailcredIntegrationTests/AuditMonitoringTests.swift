import Foundation
import MailcredCore
import Testing

extension RealKeyringTests {
  /// `audit --format prometheus` through the real node_exporter and promtool, and `audit --format nagios`
  /// with its four states, end to end against gnome-keyring, Dovecot and the scripted OAuth2 server.
  @Suite(.enabled(if: Monitoring.available, "needs scripts/test, prometheus-node-exporter and promtool"))
  struct AuditMonitoringTests {
    static let user = Harness.uniqueName("monitored") + "@example.test"
    static let password = "monitored-\(Harness.canary)-pw"
    static let userReady: Bool = { (try? Harness.setPassword(user: user, password: password)) != nil }()

    init() throws { try #require(Self.userReady) }

    var dovecot: [String] { ["--smtp", "127.0.0.1:\(Harness.submissionPort)", "--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"] }

    func add(_ account: String, user: String = AuditMonitoringTests.user, secret: String = AuditMonitoringTests.password, _ extra: [String] = []) throws {
      let added = try Harness.mailcred(["add", account, "--user", user, "--password-stdin", "--no-check"] + dovecot + extra, stdin: secret + "\n")
      try #require(added.status == 0, "add \(account): \(added.stderr)")
    }

    func remove(_ accounts: [String]) { for account in accounts { _ = try? Harness.mailcred(["remove", account, "--yes"]) } }

    func shown(_ account: String) throws -> [String: Any] {
      let show = try Harness.mailcred(["show", account, "--json"])
      return try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
    }

    func epoch(_ rfc3339: Any?) throws -> Double {
      try #require((rfc3339 as? String).flatMap(RFC3339.parse)).timeIntervalSince1970.rounded(.down)
    }

    /// Accounts in the keyring that are not this test's and would fail an audit (left by another test).
    func foreignFailures(_ mine: [String]) throws -> [String] {
      let audit = try Harness.mailcred(["audit", "--json", "--offline"])
      let document = try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any]
      let rows = document?["credentials"] as? [[String: Any]] ?? []
      return rows.filter { $0["attention"] as? String != "none" }
        .compactMap { ($0["credential"] as? [String: Any])?["account"] as? String }.filter { !mine.contains($0) }
    }

    // MARK: Prometheus

    @Test func nodeExporterServesEveryMetricOfAnExpiredARejectedAnOkAndAnOAuthCredentialAndPromtoolAcceptsTheFile() throws {
      let p = Harness.uniqueName("prom")
      let (ok, rejected, expired, grant) = ("\(p)-ok", "\(p)-rejected", "\(p)-expired", "\(p)-oauth")
      defer { remove([ok, rejected, expired, grant]) }
      try add(ok)
      // A user name with a double quote and a backslash: label values must be escaped (Dovecot rejects it).
      let oddUser = #"odd"quote\back-\#(p)@example.test"#
      try add(rejected, user: oddUser, secret: "wrong-\(Harness.canary)")
      try add(expired, ["--created", AuditTests.day(-120), "--expires", AuditTests.day(-30)])
      let oauth = OAuthTests()
      let grantUser = try oauth.mailUser("prom-oauth")
      #expect(try oauth.authorize(grant, user: grantUser).status == 0)

      let directory = try #require(Harness.directory) + "/textfile-" + p
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      let file = directory + "/mailcred.prom"
      let before = Date().timeIntervalSince1970.rounded(.down)
      let audit = try Harness.mailcred(
        ["audit", "--format", "prometheus", "--textfile-dir", directory, "--ca-file", Harness.caFile, "--timeout", "5"])
      let after = Date().timeIntervalSince1970.rounded(.up)
      #expect(audit.status == 77, "the exit status is audit's as for every format: \(audit.stderr)")
      #expect(audit.stdout.isEmpty, "with --textfile-dir nothing goes to stdout")
      let written = try String(contentsOfFile: file, encoding: .utf8)
      #expect(!written.contains(Harness.canary))
      let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
      #expect(mode == 0o644, "node_exporter runs as another user: \(String(mode ?? 0, radix: 8))")
      #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["mailcred.prom"], "no temp file left")

      // promtool validates the exposition format (exit 0, nothing said).
      let lint = try Harness.run(Monitoring.promtool, ["check", "metrics"], stdin: written)
      #expect(lint.status == 0, "promtool: \(lint.stdout)\(lint.stderr)")
      #expect(lint.stdout.isEmpty && lint.stderr.isEmpty, "promtool: \(lint.stdout)\(lint.stderr)")

      let exporter = try NodeExporter(directory: directory, log: directory + "-node-exporter.log")
      defer { exporter.stop() }
      let scrape = try exporter.scrape()
      #expect(scrape.value("node_textfile_scrape_error") == 0, "node_exporter could not read the file")

      let audited = try #require(scrape.value("mailcred_audit_timestamp_seconds"))
      #expect(audited >= before && audited <= after)
      for account in [ok, rejected, expired] {
        let user = account == rejected ? oddUser : Self.user
        // node_exporter drops an empty label (provider ""): it is absent from the scraped series.
        let identity = ["account": account, "kind": "password", "user": user]
        #expect(scrape.value("mailcred_credential_created_timestamp_seconds", identity) == (try epoch(try shown(account)["created"])), "\(account)")
        for proto in ["smtp", "imap"] {
          let labels = ["account": account, "protocol": proto]
          let verdict = account == rejected ? "rejected" : "ok"
          #expect(scrape.value("mailcred_check_success", labels) == (verdict == "ok" ? 1 : 0), "\(account) \(proto)")
          #expect(scrape.values("mailcred_check_result", labels).count == CheckClass.allCases.count)
          #expect(scrape.value("mailcred_check_result", labels.merging(["class": verdict]) { $1 }) == 1, "\(account) \(proto)")
          #expect(scrape.values("mailcred_check_result", labels).reduce(0, +) == 1, "one class is 1")
          let duration = try #require(scrape.value("mailcred_check_duration_seconds", labels), "\(account) \(proto)")
          #expect(duration > 0 && duration < 5)
        }
      }
      #expect(scrape.value("mailcred_credential_expiry_timestamp_seconds", ["account": expired, "kind": "password", "user": Self.user])
        == (try epoch(try shown(expired)["expires"])))
      #expect(scrape.values("mailcred_credential_expiry_timestamp_seconds", ["account": ok]).isEmpty, "no expiry, no series")
      // The grant: checked (so refreshed) by this very audit.
      let refreshed = try #require(scrape.value("mailcred_oauth_last_refresh_timestamp_seconds", ["account": grant, "kind": "oauth2", "user": grantUser]))
      #expect(refreshed == audited)
      #expect(scrape.value("mailcred_check_success", ["account": grant, "protocol": "smtp"]) == 1)
      #expect(scrape.values("mailcred_oauth_last_refresh_timestamp_seconds", ["account": ok]).isEmpty)
      let shownRefresh = try #require(Harness.mailcred(["show", grant]).stdout.split(separator: "\n").first { $0.hasPrefix("last refresh:") })
      #expect(shownRefresh.contains(AuditTests.day(0)), "\(shownRefresh)")

      // Without --textfile-dir the same text goes to stdout.
      let printed = try Harness.mailcred(["audit", "--format", "prometheus", "--offline"])
      #expect(printed.stdout.contains("# TYPE mailcred_audit_timestamp_seconds gauge"))
      #expect(!printed.stdout.contains("mailcred_check_success{"), "offline: no check series")

      // A failing audit (no Secret Service on the bus) writes nothing: the previous file stays whole.
      let unavailable = try Harness.mailcred(
        ["audit", "--format", "prometheus", "--textfile-dir", directory],
        environment: ["DBUS_SESSION_BUS_ADDRESS": "unix:path=\(directory)/no-such-bus"], deadline: 20)
      #expect(unavailable.status == 69, "\(unavailable.stderr)")
      #expect(unavailable.stderr.hasPrefix("mailcred: ") && unavailable.stderr.split(separator: "\n").count == 1)
      #expect(try String(contentsOfFile: file, encoding: .utf8) == written)
      #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["mailcred.prom"])
      #expect(try exporter.scrape().value("mailcred_audit_timestamp_seconds") == audited)
      // So does one against a locked keyring (attributes readable, no secret: nothing checked).
      try Harness.lockKeyring()
      let locked = try Harness.mailcred(["audit", "--format", "prometheus", "--textfile-dir", directory])
      try Harness.unlockKeyring()
      #expect(locked.status == 69 && locked.stderr.contains("locked"), "\(locked.stderr)")
      #expect(try String(contentsOfFile: file, encoding: .utf8) == written)
      // And one that cannot create its temp file says so and leaves nothing behind.
      let missing = try Harness.mailcred(["audit", "--format", "prometheus", "--offline", "--textfile-dir", directory + "/absent"])
      #expect(missing.status == 78 && missing.stderr.contains("cannot create a temp file"), "\(missing.stderr)")
      #expect(try Harness.mailcred(["audit", "--textfile-dir", directory]).status == 64, "--textfile-dir needs --format prometheus")
    }

    /// contrib/prometheus/mailcred.rules.yml loads, and its alerts fire on series shaped like mailcred's.
    @Test func theContribAlertRulesPassPromtoolsCheckAndUnitTests() throws {
      let contrib = URL(fileURLWithPath: Harness.scripts).deletingLastPathComponent().appendingPathComponent("contrib/prometheus").path
      let check = try Harness.run(Monitoring.promtool, ["check", "rules", contrib + "/mailcred.rules.yml"])
      #expect(check.status == 0 && check.stdout.contains("SUCCESS: 6 rules found"), "\(check.stdout)\(check.stderr)")
      let units = try Harness.run("/bin/sh", ["-c", "cd \"$1\" && exec \"$2\" test rules mailcred.rules.test.yml", "sh", contrib, Monitoring.promtool])
      #expect(units.status == 0 && units.stdout.contains("SUCCESS"), "\(units.stdout)\(units.stderr)")
    }

    // MARK: Nagios

    func nagios(_ extra: [String] = [], environment: [String: String?] = [:]) throws -> (status: Int32, lines: [String]) {
      let out = try Harness.mailcred(["audit", "--format", "nagios", "--ca-file", Harness.caFile, "--timeout", "5"] + extra,
        environment: environment, deadline: 30)
      let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      #expect(out.stdout.hasSuffix("\n") && lines.last == "", "every line ends in LF")
      let first = lines.first ?? ""
      // The status line: MAILCRED STATE - text | perfdata (UNKNOWN has no perfdata: nothing was measured).
      let parts = first.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      if out.status == 3 {
        #expect(parts.count == 1, "\(first)")
      } else {
        #expect(parts.count == 2, "\(first)")
        #expect(Monitoring.perfdataIsValid(parts.last ?? ""), "perfdata: \(first)")
      }
      #expect(lines.dropFirst().allSatisfy { !$0.contains("|") }, "a pipe in long output starts perfdata")
      return (out.status, Array(lines.dropLast()))
    }

    @Test func nagiosSaysOKThenWARNINGThenCRITICALThenUNKNOWNWithThePluginExitStatuses() throws {
      let p = Harness.uniqueName("nag")
      let (ok, soon, rejected) = ("\(p)-ok", "\(p)-soon", "\(p)-rejected")
      defer { remove([ok, soon, rejected]) }
      try add(ok)
      #expect(try foreignFailures([ok]) == [], "another test left credentials that need attention")

      let green = try nagios()
      #expect(green.status == 0)
      #expect(green.lines.count == 1)
      #expect(try #require(green.lines.first).hasPrefix("MAILCRED OK - "))
      #expect(green.lines.first?.contains(" ok=") == true && green.lines.first?.contains(" rejected=0;;0;0") == true)

      try add(soon, ["--expires-in", "10d"])
      let amber = try nagios()
      #expect(amber.status == 1)
      #expect(try #require(amber.lines.first).hasPrefix("MAILCRED WARNING - 1 expires in 10 days, "))
      #expect(amber.lines.first?.contains("expiring=1;0;;0") == true)
      #expect(amber.lines.dropFirst().contains { $0.hasPrefix("\(soon): expires in 10 days") })
      // Within --crit-days the same credential is critical.
      let near = try nagios(["--crit-days", "10"])
      #expect(near.status == 2 && near.lines.first?.hasPrefix("MAILCRED CRITICAL - 1 expires in 10 days") == true, "\(near.lines)")

      try add(rejected, secret: "wrong-\(Harness.canary)")
      let red = try nagios()
      #expect(red.status == 2)
      #expect(try #require(red.lines.first).hasPrefix("MAILCRED CRITICAL - 1 rejected, 1 expires in 10 days, 1 ok | "))
      #expect(red.lines.first?.contains("rejected=1;;0;0") == true)
      #expect(red.lines.dropFirst().contains { $0.hasPrefix("\(rejected): smtp rejected: 535 5.7.8") })
      #expect(red.lines.dropFirst().contains { $0.hasPrefix("\(rejected): imap rejected: ") })
      // The other formats keep audit's own exit statuses.
      #expect(try Harness.mailcred(["audit", "--format", "json", "--ca-file", Harness.caFile]).status == 77)
      #expect(try Harness.mailcred(["audit", "--json", "--ca-file", Harness.caFile]).status == 77)
      #expect(try Harness.mailcred(["audit", "--format", "table", "--ca-file", Harness.caFile]).status == 77)
      #expect(try Harness.mailcred(["audit", "--json", "--format", "nagios"]).status == 64)

      // No Secret Service: UNKNOWN, one line, on stdout where the monitoring system reads it.
      let dark = try nagios(environment: ["DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/\(p)/bus"])
      #expect(dark.status == 3)
      #expect(dark.lines.count == 1)
      #expect(dark.lines.first?.hasPrefix("MAILCRED UNKNOWN - no Secret Service") == true, "\(dark.lines)")
      try Harness.lockKeyring()
      let locked = try nagios()
      try Harness.unlockKeyring()
      #expect(locked.status == 3)
      #expect(locked.lines.count == 1)
      #expect(locked.lines.first?.hasPrefix("MAILCRED UNKNOWN - the keyring is locked") == true, "\(locked.lines)")
      #expect(locked.lines.first?.contains("mailcred unlock") == true, "\(locked.lines)")
    }
  }
}

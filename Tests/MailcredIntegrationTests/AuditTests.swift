import Foundation
import MailcredCore
import MailcredKeyring
import Testing

extension RealKeyringTests {
  /// `mailcred audit` end to end: the built binary, gnome-keyring, Dovecot and small loopback servers that
  /// never greet, greet late, or count their connections.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (keyring and mail servers)"))
  struct AuditTests {
    static let user = Harness.uniqueName("auditor") + "@example.test"
    static let password = "audited-\(Harness.canary)-pw"

    /// The mail user exists once per run (set-password waits out Dovecot's one-second passwd-file cache).
    static let userReady: Bool = {
      (try? Harness.setPassword(user: user, password: password)) != nil
    }()

    init() throws {
      try #require(Self.userReady)
    }

    func add(_ account: String, secret: String = AuditTests.password, _ endpoints: [String], extra: [String] = []) throws {
      let added = try Harness.mailcred(
        ["add", account, "--user", Self.user, "--password-stdin", "--no-check"] + endpoints + extra, stdin: secret + "\n")
      try #require(added.status == 0, "add \(account): \(added.stderr)")
    }

    var dovecotSMTP: [String] { ["--smtp", "127.0.0.1:\(Harness.submissionPort)"] }

    func audit(_ options: [String]) throws -> Harness.Output {
      let output = try Harness.mailcred(["audit", "--ca-file", Harness.caFile] + options, deadline: 60)
      #expect(!output.stdout.contains(Harness.canary) && !output.stderr.contains(Harness.canary), "secret leaked")
      return output
    }

    /// Parses `audit --json` and checks the document's structure (mailcred(1), "audit --json").
    func parseAudit(_ output: Harness.Output) throws -> (document: [String: Any], rows: [[String: Any]]) {
      let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8))
      let document = try #require(object as? [String: Any], "not a JSON object: \(output.stdout.prefix(200))")
      #expect(Set(document.keys) == ["generated", "offline", "warn_days", "exit_status", "credentials"])
      #expect((document["generated"] as? String).flatMap(RFC3339.parse) != nil)
      #expect(document["offline"] is Bool)
      #expect(document["warn_days"] is Int)
      #expect(document["exit_status"] as? Int == Int(output.status), "the document's exit_status is the process's")
      let rows = try #require(document["credentials"] as? [[String: Any]])
      for row in rows {
        #expect(Set(row.keys) == ["credential", "age_days", "attention", "interrupted_rotation", "checks", "exit_status"])
        let credential = try #require(row["credential"] as? [String: Any])
        for key in ["account", "kind", "user", "state", "created", "status"] { #expect(credential[key] is String, "credential.\(key)") }
        #expect(["ok", "expiring", "expired"].contains(credential["status"] as? String ?? ""))
        #expect(row["age_days"] is Int)
        #expect(["none", "warning", "failing"].contains(row["attention"] as? String ?? ""))
        #expect(row["interrupted_rotation"] is Bool)
        #expect([0, 75, 76, 77].contains(row["exit_status"] as? Int ?? -1))
        for check in try #require(row["checks"] as? [[String: Any]]) {
          for key in ["account", "protocol", "host", "security", "result", "detail"] { #expect(check[key] is String, "check.\(key)") }
          #expect(check["port"] is Int && check["latency_ms"] is Int)
          #expect(CheckClass(rawValue: check["result"] as? String ?? "") != nil)
          #expect((check["hint"] is String) == (check["result"] as? String != "ok"), "a hint exactly when not ok")
        }
      }
      return (document, rows)
    }

    func accountOf(_ row: [String: Any]) -> String { (row["credential"] as? [String: Any])?["account"] as? String ?? "" }
    func credentialOf(_ row: [String: Any]) -> [String: Any] { row["credential"] as? [String: Any] ?? [:] }
    func resultsOf(_ row: [String: Any]) -> [String] { (row["checks"] as? [[String: Any]] ?? []).compactMap { $0["result"] as? String } }

    static func day(_ offset: Int) -> String {
      let formatter = DateFormatter()
      formatter.dateFormat = "yyyy-MM-dd"
      formatter.timeZone = TimeZone(identifier: "UTC")
      return formatter.string(from: Date().addingTimeInterval(Double(offset) * 86400))
    }

    // MARK: Verdicts, rows and exit status

    @Test func mixOfCredentialsGivesWorstFirstRowsAndExit77ThenOkAndExpiringGive0() throws {
      let silent = try LoopbackServer(SMTPScript.silent)
      defer { silent.stop() }
      let p = Harness.uniqueName("aud")
      let names = ["expired", "rejected", "refused", "timeout", "expiring", "ok"].map { "\(p)-\($0)" }
      let (expired, rejected, refused, timeout, expiring, ok) = (names[0], names[1], names[2], names[3], names[4], names[5])
      try add(ok, dovecotSMTP + ["--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"])
      try add(rejected, secret: "wrong-\(Harness.canary)", dovecotSMTP)
      try add(expired, dovecotSMTP, extra: ["--created", Self.day(-120), "--expires", Self.day(-30)])
      try add(expiring, dovecotSMTP, extra: ["--expires-in", "5d"])
      try add(refused, ["--smtp", "127.0.0.1:\(try closedLoopbackPort())"])
      try add(timeout, ["--smtp", "127.0.0.1:\(silent.port)"])
      defer { for name in names { _ = try? Harness.mailcred(["remove", name, "--yes"]) } }

      let json = try audit(["--json", "--timeout", "2"])
      #expect(json.status == 77, "\(json.stderr)")
      #expect(json.stderr.isEmpty, "no progress line without a terminal: \(json.stderr)")
      #expect(json.seconds < 8, "checks run concurrently: \(json.seconds) s")
      let (document, rows) = try parseAudit(json)
      #expect(document["offline"] as? Bool == false)
      #expect(document["warn_days"] as? Int == 14)
      let mine = rows.filter { names.contains(accountOf($0)) }
      #expect(mine.map(accountOf) == names, "worst first, then by name")
      let row = Dictionary(uniqueKeysWithValues: mine.map { (accountOf($0), $0) })
      #expect(row[expired].map(resultsOf) == ["ok"], "the server still takes it, but it is expired")
      #expect(row[expired].map(credentialOf)?["status"] as? String == "expired")
      #expect(row[expired].map(credentialOf)?["days_left"] as? Int == -30)
      #expect(row[expired]?["age_days"] as? Int == 120)
      #expect(row[rejected].map(resultsOf) == ["rejected"])
      #expect(((row[rejected]?["checks"] as? [[String: Any]])?.first?["detail"] as? String)?.contains("535 5.7.8") == true)
      #expect(row[refused].map(resultsOf) == ["refused"])
      #expect(row[timeout].map(resultsOf) == ["timeout"])
      #expect(((row[timeout]?["checks"] as? [[String: Any]])?.first?["detail"] as? String)?.contains("within 2 s") == true)
      #expect(row[expiring].map(resultsOf) == ["ok"])
      #expect(row[expiring].map(credentialOf)?["status"] as? String == "expiring")
      #expect(row[expiring].map(credentialOf)?["days_left"] as? Int == 5)
      #expect(row[ok].map(resultsOf) == ["ok", "ok"], "SMTP and IMAP")
      #expect(mine.map { $0["exit_status"] as? Int } == [77, 77, 75, 75, 0, 0])
      #expect(mine.map { $0["attention"] as? String } == ["failing", "failing", "failing", "failing", "warning", "none"])
      #expect(mine.allSatisfy { $0["interrupted_rotation"] as? Bool == false })

      // The same audit as a table: rows in the same order, then what to do about each.
      let table = try audit(["--timeout", "2"])
      #expect(table.status == 77)
      let lines = table.stdout.split(separator: "\n").map(String.init)
      #expect(lines.first?.hasPrefix("ACCOUNT") == true)
      #expect(lines.compactMap { line in names.first { line.hasPrefix($0 + " ") } } == names)
      #expect(lines.contains { $0.hasPrefix("\(rejected): smtp rejected: 535 5.7.8") })
      #expect(lines.contains { $0.hasPrefix("\(expired): expired 30 days ago") && $0.contains("mailcred rotate \(expired)") })
      #expect(lines.contains { $0.hasPrefix("\(timeout): smtp timeout") })
      #expect(lines.contains { $0.hasPrefix("\(refused): smtp refused") })
      #expect(lines.contains { $0.hasPrefix("\(expiring): warning: expires in 5 days") })
      #expect(lines.filter { $0.hasPrefix("  hint: ") }.count >= 3)

      // Only the ok and the expiring credential left: exit 0, the expiring one still listed as a warning.
      for name in [expired, rejected, refused, timeout] { try Harness.mailcred(["remove", name, "--yes"]) }
      let clean = try audit(["--json", "--timeout", "2"])
      let (_, cleanRows) = try parseAudit(clean)
      let foreignFailures = cleanRows.filter { !names.contains(accountOf($0)) && $0["exit_status"] as? Int != 0 }
      #expect(foreignFailures.map(accountOf) == [], "another test left failing credentials")
      #expect(clean.status == 0, "\(clean.stdout)")
      #expect(cleanRows.filter { names.contains(accountOf($0)) }.map(accountOf) == [expiring, ok])
      let cleanTable = try audit(["--timeout", "2"])
      #expect(cleanTable.status == 0)
      #expect(cleanTable.stdout.contains("\(expiring): warning: expires in 5 days"))
      // --warn-days 3: five days away is no longer a warning.
      let relaxed = try parseAudit(try audit(["--json", "--timeout", "2", "--warn-days", "3"])).rows
      #expect(relaxed.first { accountOf($0) == expiring }?["attention"] as? String == "none")
    }

    // MARK: Offline, notifications, recorded results

    @Test func offlineMakesNoConnectionAtAll() throws {
      let verdict = Switch()
      let server = try LoopbackServer(SMTPScript.switchable(verdict))
      defer { server.stop() }
      let account = Harness.uniqueName("aud-offline")
      let expired = Harness.uniqueName("aud-offline-expired")
      try add(account, ["--smtp", "127.0.0.1:\(server.port)", "--smtp-security", "plain"])
      try add(expired, ["--smtp", "127.0.0.1:\(server.port)", "--smtp-security", "plain"], extra: ["--created", Self.day(-60), "--expires", Self.day(-1)])
      defer { for name in [account, expired] { _ = try? Harness.mailcred(["remove", name, "--yes"]) } }

      let offline = try audit(["--offline", "--json", "--allow-plaintext"])
      #expect(server.acceptCount == 0, "--offline connected \(server.acceptCount) times")
      #expect(offline.status == 77, "an expired credential fails the audit even offline")
      let (document, rows) = try parseAudit(offline)
      #expect(document["offline"] as? Bool == true)
      #expect(rows.allSatisfy { ($0["checks"] as? [Any])?.isEmpty == true })
      #expect(try audit(["--offline", "--allow-plaintext"]).stdout.contains("not checked"))
      #expect(server.acceptCount == 0)

      // The control: the same audit online does reach the server.
      let online = try audit(["--json", "--allow-plaintext", "--timeout", "5"])
      #expect(server.acceptCount == 2)
      #expect(try parseAudit(online).rows.first { accountOf($0) == account }.map(resultsOf) == ["ok"])
    }

    @Test func notifySendsOneDesktopNotificationOnlyWhenSomethingNeedsAttention() throws {
      let bin = FileManager.default.temporaryDirectory.appendingPathComponent(Harness.uniqueName("notify")).path
      try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: bin) }
      let log = bin + "/calls"
      try "#!/bin/sh\nprintf '%s|' \"$@\" >> '\(log)'\necho >> '\(log)'\n".write(toFile: bin + "/notify-send", atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/notify-send")
      let path = bin + ":" + (Harness.environment["PATH"] ?? "/usr/bin:/bin")

      let expired = Harness.uniqueName("aud-notify")
      try add(expired, dovecotSMTP, extra: ["--created", Self.day(-60), "--expires", Self.day(-2)])
      defer { _ = try? Harness.mailcred(["remove", expired, "--yes"]) }
      let notified = try Harness.mailcred(["audit", "--offline", "--notify"], environment: ["PATH": path])
      #expect(notified.status == 77)
      let calls = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      #expect(calls.split(separator: "\n").count == 1)
      #expect(calls.contains("mailcred audit|") && calls.contains(expired))

      // No notify-send on PATH: silently skipped, the exit status still says it.
      let without = try Harness.mailcred(["audit", "--offline", "--notify"], environment: ["PATH": "/nonexistent"])
      #expect(without.status == 77)
      #expect(without.stderr.isEmpty, "\(without.stderr)")
    }

    @Test func checkAndAuditRecordTheLastResultSoListShowsItWithoutTheNetwork() throws {
      let verdict = Switch()
      let server = try LoopbackServer(SMTPScript.switchable(verdict))
      defer { server.stop() }
      let account = Harness.uniqueName("aud-record")
      try add(account, ["--smtp", "127.0.0.1:\(server.port)", "--smtp-security", "plain"])
      defer { _ = try? Harness.mailcred(["remove", account, "--yes"]) }
      func lastCheck() throws -> String? {
        let listed = try Harness.mailcred(["list"])
        return listed.stdout.split(separator: "\n").first { $0.hasPrefix(account + " ") }.map { String($0.split(separator: " ").last ?? "") }
      }
      func recorded() throws -> (String?, String?) {
        let shown = try Harness.mailcred(["show", account, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        return (report?["check_result"] as? String, report?["checked"] as? String)
      }
      let today = Self.day(0)
      #expect(try lastCheck() == "never")
      #expect(try recorded() == (nil, nil))

      #expect(try Harness.mailcred(["check", account, "--allow-plaintext"]).status == 0)
      #expect(server.acceptCount == 1)
      #expect(try Harness.mailcred(["list"]).stdout.contains("ok \(today)"))
      #expect(try recorded().0 == "ok")
      #expect(try recorded().1?.hasPrefix(today) == true)

      // The server now rejects: `list` and `show` still say what the last check found, without asking it.
      verdict.accepting = false
      #expect(try Harness.mailcred(["list"]).stdout.contains("ok \(today)"))
      #expect(try recorded().0 == "ok")
      #expect(server.acceptCount == 1, "list and show never touch the network")

      #expect(try audit(["--allow-plaintext", "--timeout", "5"]).status == 77)
      #expect(server.acceptCount == 2)
      #expect(try Harness.mailcred(["list"]).stdout.contains("rejected \(today)"))
      #expect(try recorded().0 == "rejected")
      #expect(server.acceptCount == 2)
    }

    // MARK: Concurrency

    /// 100 credentials against a server that waits 1 s before each greeting, then rejects: one at a time
    /// this is 100 s; on the 2-thread cooperative pool with blocking sockets ~50 s.
    @Test func hundredCredentialsBehindOneSecondGreetingsAuditInUnderTenSeconds() throws {
      let server = try LoopbackServer(SMTPScript.slowRejecting(delay: 1))
      defer { server.stop() }
      let store = CredentialStore(keyring: SecretServiceKeyring())
      let prefix = Harness.uniqueName("aud-slow")
      let accounts = (0..<100).map { prefix + "-" + String(format: "%03d", $0) }
      let fillStart = Date()
      for account in accounts {
        let credential = Credential(
          account: account, kind: .appPassword, user: "slow\(account.suffix(3))@example.test",
          smtp: Endpoint(proto: .smtp, host: "127.0.0.1", port: server.port, security: .plain), created: Date())
        try store.add(credential, secret: SecretBytes(taking: Array("slow-\(Harness.canary)".utf8)), replace: false)
      }
      let filled = Date().timeIntervalSince(fillStart)
      defer { for account in accounts { _ = try? store.remove(account: account) } }

      var timings: [String] = []
      for jobs in [nil, "100"] {
        let before = server.acceptCount
        let audited = try audit(["--json", "--allow-plaintext", "--timeout", "10"] + (jobs.map { ["--jobs", $0] } ?? []))
        timings.append("\(jobs.map { "--jobs \($0)" } ?? "default jobs"): \(String(format: "%.2f", audited.seconds)) s")
        #expect(audited.status == 77)
        #expect(audited.seconds < 10, "\(audited.seconds) s")
        let rows = try parseAudit(audited).rows.filter { accountOf($0).hasPrefix(prefix) }
        #expect(rows.count == 100)
        #expect(rows.allSatisfy { resultsOf($0) == ["rejected"] })
        #expect(server.acceptCount - before == 100)
      }
      print("audit of 100 credentials, each greeting delayed 1 s (fill \(String(format: "%.1f", filled)) s):", timings.joined(separator: "; "))
    }
  }
}

import Foundation
import Testing

extension RealKeyringTests {
  /// Issue 18 end to end: the built binary against the harness's Dovecot. A credential stored with the wrong
  /// security for its port is diagnosed by a probe, with the exact fix, long before the timeout; Dovecot's
  /// log shows that no probe (and no check) tried to log in. Provider policy facts flag refused kinds offline.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (keyring and mail servers)"))
  struct ProbeCommandTests {
    /// Never made a Dovecot user: a login attempt would be logged with this name.
    static let user = Harness.uniqueName("prober") + "@example.test"
    static let secret = "probe-\(Harness.canary)-pw"

    func add(_ account: String, _ options: [String], user: String = ProbeCommandTests.user) throws {
      let added = try Harness.mailcred(
        ["add", account, "--user", user, "--password-stdin", "--no-check"] + options, stdin: Self.secret + "\n")
      try #require(added.status == 0, "add \(account): \(added.stderr)")
    }

    struct WrongSecurity: CustomTestStringConvertible, Sendable {
      var name: String
      var proto: String
      var port: @Sendable () -> Int
      var stored: String
      var fixed: String
      var says: String
      var testDescription: String { name }
    }

    static let cases: [WrongSecurity] = [
      WrongSecurity(name: "STARTTLS stored for Dovecot submissions (implicit TLS)", proto: "smtp", port: { Harness.submissionsPort },
        stored: "starttls", fixed: "tls", says: "speaks implicit TLS"),
      WrongSecurity(name: "STARTTLS stored for Dovecot IMAPS", proto: "imap", port: { Harness.imapsPort },
        stored: "starttls", fixed: "tls", says: "speaks implicit TLS"),
      WrongSecurity(name: "implicit TLS stored for Dovecot submission (STARTTLS)", proto: "smtp", port: { Harness.submissionPort },
        stored: "tls", fixed: "starttls", says: "speaks STARTTLS"),
      WrongSecurity(name: "implicit TLS stored for Dovecot IMAP (STARTTLS)", proto: "imap", port: { Harness.imapPort },
        stored: "tls", fixed: "starttls", says: "speaks STARTTLS"),
    ]

    @Test(arguments: cases)
    func wrongSecurityForThePortIsDiagnosedWithTheFix(wrong: WrongSecurity) throws {
      let account = Harness.uniqueName("probe")
      let port = wrong.port()
      try add(account, ["--\(wrong.proto)", "127.0.0.1:\(port)", "--\(wrong.proto)-security", wrong.stored])
      defer { _ = try? Harness.mailcred(["remove", account, "--yes"]) }
      let log = Mail.DovecotLog()

      // The default --timeout (15 s): the diagnosis must not wait it out.
      let checked = try Harness.mailcred(["check", account, "--ca-file", Harness.caFile], deadline: 30)
      #expect(checked.status == 76, "\(checked.stdout) \(checked.stderr)")
      #expect(checked.seconds < 5, "took \(checked.seconds) s")
      let fix = "`mailcred add \(account) --replace --user \(Self.user) --kind password --\(wrong.proto) 127.0.0.1:\(port) --\(wrong.proto)-security \(wrong.fixed)`"
      #expect(checked.stdout.contains("hint: port \(port) \(wrong.says)"), "\(checked.stdout)")
      #expect(checked.stdout.contains(fix), "\(checked.stdout)")

      let json = try Harness.mailcred(["check", account, "--json", "--ca-file", Harness.caFile], deadline: 30)
      let reports = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
      let report = try #require(reports.first)
      let probes = try #require(report["probes"] as? [[String: Any]])
      #expect(probes.first?["port"] as? Int == port)
      #expect(probes.first?["probe"] as? String == (wrong.stored == "starttls" ? "tls-handshake" : "clear-greeting"))
      #expect(probes.first?["answer"] as? String == (wrong.stored == "starttls" ? "implicit-tls" : "plaintext"))
      #expect(probes.first?["ms"] is Int)
      let diagnosis = try #require(report["diagnosis"] as? [String: Any])
      #expect(diagnosis["cause"] as? String == (wrong.stored == "starttls" ? "speaks-implicit-tls" : "speaks-starttls"))
      #expect(diagnosis["port"] as? Int == port && diagnosis["security"] as? String == wrong.fixed)

      // Dovecot's side: connections, and not one login attempt (no user name, no auth mechanism) in them.
      let lines = log.newLines()
      #expect(lines.contains("Disconnected") || lines.contains("disconnected"), "\(lines)")
      #expect(!lines.contains(Self.user), "a probe or the check tried to log in: \(lines)")
      #expect(!lines.contains("method=PLAIN") && !lines.contains("method=LOGIN"), "\(lines)")
      #expect(!lines.contains(Harness.canary))
    }

    /// `audit --offline`, `list` and `show` know, without the network, that Outlook.com refuses app passwords
    /// (a warning audit counts; warnings leave the exit status alone, as documented), and that a Gmail app
    /// password is fine but revoked when the Google password changes.
    @Test func providerPolicyIsKnownOffline() throws {
      let outlook = Harness.uniqueName("outlook")
      let gmail = Harness.uniqueName("gmail")
      try add(outlook, ["--provider", "outlook.com", "--kind", "app-password"], user: "someone@outlook.com")
      defer { _ = try? Harness.mailcred(["remove", outlook, "--yes"]) }
      try add(gmail, ["--provider", "gmail", "--kind", "app-password"], user: "someone@gmail.com")
      defer { _ = try? Harness.mailcred(["remove", gmail, "--yes"]) }

      let audit = try Harness.mailcred(["audit", "--offline", "--json"])
      let document = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any])
      #expect(document["exit_status"] as? Int == Int(audit.status))
      let rows = try #require(document["credentials"] as? [[String: Any]])
      func row(_ account: String) -> [String: Any]? {
        rows.first { ($0["credential"] as? [String: Any])?["account"] as? String == account }
      }
      let outlookRow = try #require(row(outlook))
      #expect(outlookRow["attention"] as? String == "warning")
      #expect(outlookRow["exit_status"] as? Int == 0, "a warning, not a failure")
      let policy = try #require((outlookRow["credential"] as? [String: Any])?["provider_policy"] as? [[String: Any]])
      #expect(policy.first?["level"] as? String == "warning" && policy.first?["effect"] as? String == "refused")
      let text = try #require(policy.first?["text"] as? String)
      let fix = try #require(policy.first?["fix"] as? String)
      #expect(text.contains("16 Sept 2024"))
      #expect(fix.hasPrefix("mailcred authorize \(outlook) --provider outlook.com"))
      let gmailRow = try #require(row(gmail))
      #expect(gmailRow["attention"] as? String == "none", "an ok Gmail app password does not warn")

      let table = try Harness.mailcred(["audit", "--offline"])
      #expect(table.status == audit.status)
      #expect(table.stdout.contains("\(outlook): warning: Outlook.com has refused passwords and app passwords"), "\(table.stdout)")
      #expect(table.stdout.contains("`mailcred authorize \(outlook) --provider outlook.com"))
      #expect(!table.stdout.contains("\(gmail): warning"))

      let list = try Harness.mailcred(["list"])
      #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix(outlook) && $0.contains("app-password refused by provider") }, "\(list.stdout)")
      #expect(list.stderr.contains("warning: \(outlook): Outlook.com has refused"))
      #expect(!list.stderr.contains(gmail))

      let showOutlook = try Harness.mailcred(["show", outlook])
      #expect(showOutlook.stdout.contains("provider policy: warning: Outlook.com has refused"), "\(showOutlook.stdout)")
      let showGmail = try Harness.mailcred(["show", gmail])
      #expect(showGmail.stdout.contains("provider policy: app-password: revoked when the Google password changes"), "\(showGmail.stdout)")
      #expect(!showGmail.stdout.contains("warning") && !showGmail.stderr.contains("warning"))
    }
  }
}

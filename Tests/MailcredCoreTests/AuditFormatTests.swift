import Foundation
import Testing
@testable import MailcredCore
import MailcredSpelling

/// `audit --format prometheus` and `--format nagios` from literal rows.
@Suite struct AuditFormatTests {
  let now = Date(timeIntervalSince1970: 1_800_000_000)
  let smtp = Endpoint(proto: .smtp, host: "127.0.0.1", port: 587, security: .starttls)
  let imap = Endpoint(proto: .imap, host: "127.0.0.1", port: 993, security: .tls)

  func entry(_ account: String, user: String = "u@example.org", expires: Double? = nil, provider: String? = nil,
    kind: CredentialKind = .appPassword, state: CredentialState = .current, id: String? = nil) -> CredentialStore.Entry {
    let credential = Credential(account: account, kind: kind, user: user, smtp: smtp, imap: imap, provider: provider,
      created: now.addingTimeInterval(-86400 * 10), expires: expires.map { now.addingTimeInterval($0 * 86400) }, state: state,
      oauth: kind == .oauth2 ? OAuthSettings(clientID: "c", tokenEndpoint: "https://idp.example/token", scopes: ["m"]) : nil)
    return CredentialStore.Entry(credential: credential, item: KeyringItem(id: id ?? "id-\(account)-\(state)", attributes: [:], locked: false))
  }

  func result(_ endpoint: Endpoint, _ verdict: CheckClass, _ detail: String = "235 2.7.0 ok") -> CheckResult {
    CheckResult(endpoint: endpoint, verdict: verdict, detail: detail, latency: 0.0123)
  }

  func rows(_ entries: [CredentialStore.Entry], _ results: [String: [CheckResult]], warningDays: Int = 14) -> [AuditRow] {
    Audit.rows(entries: entries, results: results, now: now, warningDays: warningDays)
  }

  // MARK: Prometheus

  @Test func prometheusHasEveryFamilyWithHelpTypeAndEscapedLabels() {
    let entries = [entry("ok"), entry("rej", user: #"q"u\o"#), entry("old", expires: -3, provider: "gmail"),
      entry("rej", state: .pending)]
    let results = [
      "id-ok-current": [result(smtp, .ok), result(imap, .ok)], "id-rej-current": [result(smtp, .rejected, "535 5.7.8 no")],
      "id-old-current": [result(smtp, .ok)],
    ]
    let text = AuditPrometheus.render(rows(entries, results), now: now, offline: false)
    let lines = text.split(separator: "\n").map(String.init)
    for name in ["mailcred_audit_timestamp_seconds", "mailcred_credential_created_timestamp_seconds",
      "mailcred_credential_expiry_timestamp_seconds", "mailcred_oauth_last_refresh_timestamp_seconds", "mailcred_check_success",
      "mailcred_check_result", "mailcred_check_duration_seconds"] {
      #expect(lines.filter { $0.hasPrefix("# HELP \(name) ") }.count == 1, "\(name)")
      #expect(lines.filter { $0 == "# TYPE \(name) gauge" }.count == 1, "\(name)")
    }
    #expect(lines.contains("mailcred_audit_timestamp_seconds 1800000000"))
    #expect(lines.contains(#"mailcred_credential_created_timestamp_seconds{account="rej",kind="app-password",provider="",user="q\"u\\o"} 1799136000"#))
    #expect(lines.contains(#"mailcred_credential_expiry_timestamp_seconds{account="old",kind="app-password",provider="gmail",user="u@example.org"} 1799740800"#))
    #expect(lines.filter { $0.hasPrefix("mailcred_credential_expiry_timestamp_seconds{") }.count == 1, "only credentials with an expiry")
    #expect(lines.contains(#"mailcred_check_success{account="rej",protocol="smtp"} 0"#))
    #expect(lines.contains(#"mailcred_check_success{account="ok",protocol="imap"} 1"#))
    #expect(lines.contains(#"mailcred_check_result{account="rej",protocol="smtp",class="rejected"} 1"#))
    #expect(lines.contains(#"mailcred_check_result{account="rej",protocol="smtp",class="ok"} 0"#))
    #expect(lines.filter { $0.hasPrefix(#"mailcred_check_result{account="ok",protocol="smtp""#) }.count == CheckClass.allCases.count)
    #expect(lines.contains(#"mailcred_check_duration_seconds{account="ok",protocol="smtp"} 0.012"#))
    // The pending item of "rej" adds no second set of series.
    #expect(lines.filter { $0.hasPrefix(#"mailcred_credential_created_timestamp_seconds{account="rej""#) }.count == 1)
    #expect(!lines.contains { $0.hasPrefix("mailcred_oauth_last_refresh_timestamp_seconds{") }, "no oauth2 credential")
    // Every family's samples follow its HELP/TYPE lines (the format wants a family together).
    var families: [String] = []
    for line in lines where !line.hasPrefix("#") {
      let name = String(line.prefix { $0 != "{" && $0 != " " })
      if families.last != name { families.append(name) }
    }
    #expect(families.count == Set(families).count, "\(families)")
  }

  @Test func offlineHasNoCheckSeriesAndOAuthGrantsTheirLastRefresh() {
    var grant = entry("ms", kind: .oauth2)
    grant.credential.refreshed = now.addingTimeInterval(-3600)
    let text = AuditPrometheus.render(rows([grant, entry("pw")], [:]), now: now, offline: true)
    #expect(!text.contains("mailcred_check_"))
    #expect(text.contains(#"mailcred_oauth_last_refresh_timestamp_seconds{account="ms",kind="oauth2",provider="",user="u@example.org"} 1799996400"#))
    // Checked online, the grant was refreshed by the audit itself.
    let checked = AuditPrometheus.render(rows([grant], ["id-ms-current": [result(smtp, .ok)]]), now: now, offline: false)
    #expect(checked.contains(#"mailcred_oauth_last_refresh_timestamp_seconds{account="ms",kind="oauth2",provider="",user="u@example.org"} 1800000000"#))
  }

  @Test(arguments: [("a\"b\\c\nd", #"a\"b\\c\nd"#), ("é ü", "é ü"), ("", "")])
  func labelValuesAreEscapedPerTheExpositionFormat(raw: String, escaped: String) {
    #expect(AuditPrometheus.escapeLabelValue(raw) == escaped)
  }

  @Test func helpTextEscapesOnlyBackslashAndNewline() {
    #expect(AuditPrometheus.escapeHelp("a\\b\n\"c\"") == #"a\\b\n"c""#)
  }

  // MARK: Row advice (text audit and Nagios alike)

  @Test func rowsAdviseRotatingWhatExpiresAndSettlingAnInterruptedRotation() {
    let all = rows([entry("gone", expires: -2), entry("soon", expires: 3), entry("fine", expires: 90),
      entry("old", expires: -2, state: .pending), entry("half", id: "h1"), entry("half", id: "h2")], [:])
    func row(_ account: String, _ state: CredentialState = .current) -> AuditRow? {
      all.first { $0.credential.account == account && $0.credential.state == state }
    }
    #expect(row("gone")?.expiryAdvice?.commands == [.rotate("gone")])
    #expect(row("gone")?.expiryAdvice?.text == "expired 2 days ago — `mailcred rotate gone`")
    #expect(row("soon")?.expiryAdvice?.text == "expires in 3 days — `mailcred rotate soon` before then")
    #expect(row("fine")?.expiryAdvice == nil)
    // Only the current secret is rotated: a leftover pending item's date asks for nothing.
    #expect(row("old", .pending)?.expiryAdvice == nil)
    #expect(row("half")?.interruptedAdvice?.commands == [.rotate("half", .resume)])
    #expect(row("half")?.interruptedAdvice?.text == "an interrupted rotation — `mailcred rotate half --resume` or `--abort`")
    #expect(row("fine")?.interruptedAdvice == nil)
  }

  // MARK: Nagios

  /// The plugin guidelines' perfdata: space-separated `'label'=value[UOM];[warn];[crit];[min];[max]`.
  static func perfdataIsValid(_ text: String) -> Bool {
    let number = #"-?[0-9]+(\.[0-9]+)?"#
    let range = #"@?(~|\#(number))?:?(\#(number))?"#
    let item = #"('([^'=]|'')+'|[^ '=]+)=\#(number)(s|ms|us|%|B|KB|MB|TB|c)?(;(\#(range))?){0,2}(;(\#(number))?){0,2}"#
    return text.split(separator: " ").allSatisfy { $0.wholeMatch(of: try! Regex(item)) != nil }
  }

  func nagios(_ entries: [CredentialStore.Entry], _ results: [String: [CheckResult]], offline: Bool = false) -> NagiosReport {
    NagiosReport(rows(entries, results), now: now, warnDays: 14, critDays: 3, offline: offline, speller: CommandLineSpelling())
  }

  @Test func okWarningCriticalEachWithOneStatusLineAndValidPerfdata() throws {
    let ok = nagios([entry("a"), entry("b")], ["id-a-current": [result(smtp, .ok)], "id-b-current": [result(smtp, .ok)]])
    #expect(ok.state == .ok)
    #expect(ok.text == "MAILCRED OK - 2 credentials ok | ok=2;;;0 rejected=0;;0;0 expired=0;;0;0 expiring=0;0;;0 unverified=0;0;;0 idle_grants=0;0;;0\n")

    let warning = nagios([entry("a"), entry("soon", expires: 10), entry("down")],
      ["id-a-current": [result(smtp, .ok)], "id-soon-current": [result(smtp, .ok)], "id-down-current": [result(smtp, .timeout, "no greeting | within 2 s")]])
    #expect(warning.state == .warning)
    let wlines = warning.text.split(separator: "\n").map(String.init)
    #expect(wlines[0] == "MAILCRED WARNING - 1 expires in 10 days, 1 could not be checked, 1 ok | ok=1;;;0 rejected=0;;0;0 expired=0;;0;0 expiring=1;0;;0 unverified=1;0;;0 idle_grants=0;0;;0")
    #expect(wlines.contains("down: smtp timeout: no greeting / within 2 s"), "a pipe in long output would start perfdata")
    #expect(wlines.contains { $0.hasPrefix("soon: expires in 10 days") })

    let critical = nagios([entry("a"), entry("rej"), entry("soon", expires: 3), entry("gone", expires: -1)],
      ["id-a-current": [result(smtp, .ok)], "id-rej-current": [result(smtp, .rejected, "535 5.7.8 Authentication failed.")],
       "id-soon-current": [result(smtp, .ok)], "id-gone-current": [result(smtp, .ok)]])
    #expect(critical.state == .critical)
    let clines = critical.text.split(separator: "\n").map(String.init)
    #expect(clines[0].hasPrefix("MAILCRED CRITICAL - 1 rejected, 1 expired, 1 expires in 3 days, 1 ok | "))
    #expect(clines.dropFirst().sorted() == [
      "gone: expired 1 day ago — `mailcred rotate gone`", "rej: smtp rejected: 535 5.7.8 Authentication failed.",
      "soon: expires in 3 days — `mailcred rotate soon` before then",
    ])
    for report in [ok, warning, critical] {
      let first = String(report.text.split(separator: "\n")[0])
      let parts = first.split(separator: "|", omittingEmptySubsequences: false)
      #expect(parts.count == 2)
      #expect(Self.perfdataIsValid(parts[1].trimmingCharacters(in: .whitespaces)), "\(first)")
    }
  }

  @Test func unknownAndAnIdleMicrosoftGrant() {
    #expect(NagiosReport.unknown("no Secret Service | bus").text == "MAILCRED UNKNOWN - no Secret Service / bus\n")
    #expect(NagiosReport.unknown("x").state == .unknown)
    var grant = entry("ms", provider: "office365", kind: .oauth2)
    grant.credential.refreshed = now.addingTimeInterval(-85 * 86400)
    let idle = nagios([grant], [:], offline: true)
    #expect(idle.state == .warning)
    #expect(idle.text.hasPrefix("MAILCRED WARNING - 1 OAuth2 grant idle 85 days, offline: expiry dates only | "))
    #expect(idle.text.contains("idle_grants=1;0;;0"))
    #expect(idle.text.contains("ms: warning: the OAuth2 grant of ms has not been refreshed for 85 days"))
  }

  @Test func noCredentialsIsOK() {
    #expect(nagios([], [:]).text.hasPrefix("MAILCRED OK - no credentials stored | ok=0;;;0"))
  }
}

import Foundation
import Testing
@testable import MailcredCore
import MailcredSpelling

/// Issue 18, the pure part: what each probe result concludes, the hint it gives, and the provider policy
/// facts as of a date.
@Suite struct ProbeConclusionTests {
  func result(_ verdict: CheckClass, _ proto: MailProtocol = .smtp, port: Int, security: TransportSecurity, probes: [PortProbe]) -> CheckResult {
    CheckResult(endpoint: Endpoint(proto: proto, host: "mail.example.org", port: port, security: security),
      verdict: verdict, detail: "", latency: 2, probes: probes)
  }

  func probe(_ port: Int, _ method: PortProbe.Method, _ answer: PortProbe.Answer) -> PortProbe {
    PortProbe(port: port, method: method, answer: answer, detail: "", seconds: 0.01)
  }

  struct Case: Sendable, CustomTestStringConvertible {
    var name: String
    var result: CheckResult
    var conclusion: ProbeConclusion?
    var testDescription: String { name }
  }

  static let t = ProbeConclusionTests()
  static let cases: [Case] = [
    Case(name: "STARTTLS stored, TLS probe on the port succeeds",
      result: t.result(.protocolError, port: 465, security: .starttls, probes: [t.probe(465, .tlsHandshake, .implicitTLS)]),
      conclusion: .speaksImplicitTLS(port: 465)),
    Case(name: "STARTTLS stored, TLS probe meets plain text: nothing concluded",
      result: t.result(.timeout, port: 587, security: .starttls, probes: [t.probe(587, .tlsHandshake, .plaintext)]),
      conclusion: nil),
    Case(name: "TLS stored, greeting read in clear",
      result: t.result(.tlsFailed, .imap, port: 143, security: .tls, probes: [t.probe(143, .clearGreeting, .plaintext)]),
      conclusion: .speaksSTARTTLS(port: 143)),
    Case(name: "TLS stored, the clear probe finds another service",
      result: t.result(.tlsFailed, port: 465, security: .tls, probes: [t.probe(465, .clearGreeting, .otherService)]),
      conclusion: nil),
    Case(name: "587 timed out, 465 speaks TLS",
      result: t.result(.timeout, port: 587, security: .starttls, probes: [t.probe(465, .tlsHandshake, .implicitTLS)]),
      conclusion: .alternativeAnswers(blocked: 587, refused: false, answering: 465, security: .tls)),
    Case(name: "465 refused, 587 greets in clear",
      result: t.result(.refused, port: 465, security: .tls, probes: [t.probe(587, .clearGreeting, .plaintext)]),
      conclusion: .alternativeAnswers(blocked: 465, refused: true, answering: 587, security: .starttls)),
    Case(name: "993 and 143 time out",
      result: t.result(.timeout, .imap, port: 993, security: .tls, probes: [t.probe(143, .clearGreeting, .timeout)]),
      conclusion: .bothBlocked(993, 143, refused: false)),
    Case(name: "587 refused, 465 times out: filtered, not refused",
      result: t.result(.refused, port: 587, security: .starttls, probes: [t.probe(465, .tlsHandshake, .timeout)]),
      conclusion: .bothBlocked(587, 465, refused: false)),
    Case(name: "587 timed out, 465 silent: nothing concluded",
      result: t.result(.timeout, port: 587, security: .starttls, probes: [t.probe(465, .tlsHandshake, .silent)]),
      conclusion: nil),
    Case(name: "no probes", result: t.result(.timeout, port: 587, security: .starttls, probes: []), conclusion: nil),
  ]

  @Test(arguments: cases)
  func probesConclude(_ c: Case) {
    #expect(c.result.conclusion == c.conclusion)
    if c.conclusion != nil {
      let text = hint(for: c.result, provider: nil, account: "work", user: "me@example.org").text
      #expect(!text.isEmpty && !text.contains("\n") && !text.contains(" if "), "\(text)")
    }
  }

  @Test func fixCommandKeepsProviderAndKind() {
    let r = result(.protocolError, port: 465, security: .starttls, probes: [probe(465, .tlsHandshake, .implicitTLS)])
    let text = hint(for: r, provider: Provider.named("gmail"), account: "work", kind: .appPassword, user: "me@gmail.com").text
    #expect(text == "port 465 speaks implicit TLS, not STARTTLS: `mailcred add work --replace --user me@gmail.com "
      + "--provider gmail --kind app-password --smtp mail.example.org:465 --smtp-security tls`")
  }

  @Test(arguments: [(MailProtocol.smtp, 587, 465), (.smtp, 465, 587), (.imap, 993, 143), (.imap, 143, 993)])
  func standardAlternatives(proto: MailProtocol, port: Int, other: Int) {
    #expect(alternativePort(for: proto, port: port) == other)
  }

  @Test func unusualPortsHaveNoAlternative() {
    #expect(alternativePort(for: .smtp, port: 2525) == nil)
    #expect(alternativePort(for: .imap, port: 10993) == nil)
  }

  // MARK: Provider policy facts

  func credential(_ provider: String?, _ kind: CredentialKind, smtpHost: String = "smtp.example.org", imap: Bool = true) -> Credential {
    Credential(
      account: "acct", kind: kind, user: "me@example.org",
      smtp: Endpoint(proto: .smtp, host: smtpHost, port: 587, security: .starttls),
      imap: imap ? Endpoint(proto: .imap, host: "imap.example.org", port: 993, security: .tls) : nil,
      provider: provider, created: RFC3339.parse("2026-01-01")!)
  }

  let today = RFC3339.parse("2026-12-02T12:00:00Z")!

  @Test(arguments: [CredentialKind.appPassword, .password])
  func outlookBasicAuthIsRefused(kind: CredentialKind) throws {
    let concern = try #require(credential("outlook.com", kind).policyWarning(now: today))
    #expect(concern.effect == "refused")
    #expect(concern.text.contains("16 Sept 2024"))
    #expect(concern.fix == .authorize("acct", .provider("outlook.com"), .clientID("YOUR-CLIENT-ID")))
    #expect(concern.fix?.text == "mailcred authorize acct --provider outlook.com --client-id YOUR-CLIENT-ID")
    #expect(concern.short == "\(kind.rawValue) refused by provider")
  }

  @Test func outlookOAuthIsFine() {
    #expect(credential("outlook.com", .oauth2).policyConcerns(now: today).isEmpty)
  }

  @Test func outlookIsRecognisedByItsHost() {
    #expect(credential(nil, .appPassword, smtpHost: "smtp-mail.outlook.com").policyWarning(now: today) != nil)
  }

  @Test func office365IMAPPasswordsAreRefused() throws {
    let concerns = credential("office365", .password).policyConcerns(now: today)
    #expect(concerns.map(\.effect) == ["refused", "refused-by-default"])
    #expect(concerns.first?.text.contains("IMAP since the end of 2022") == true)
  }

  @Test func office365IsAnnouncedBeforeAndStatedAfter() throws {
    let before = try #require(credential("office365", .password, imap: false).policyWarning(now: today))
    #expect(before.effect == "refused-by-default")
    #expect(before.text.contains("(from 2026-12-31, in 29 days)"), "\(before.text)")
    #expect(before.short == "basic auth off from 2026-12-31")
    let after = try #require(credential("office365", .password, imap: false).policyWarning(now: RFC3339.parse("2027-01-05")!))
    #expect(!after.text.contains("from 2026-12-31"))
    #expect(after.text.contains("tenant admin can re-enable"))
    #expect(after.short == "basic auth off by default")
  }

  @Test func office365WithoutSMTPHasOnlyTheIMAPFact() {
    var imapOnly = credential("office365", .password)
    imapOnly.smtp = nil
    #expect(imapOnly.policyConcerns(now: today).map(\.effect) == ["refused"])
  }

  @Test func gmailAppPasswordHasANoteButNoWarning() throws {
    let c = credential("gmail", .appPassword)
    #expect(c.policyWarning(now: today) == nil)
    let note = try #require(c.policyConcerns(now: today).first)
    #expect(note.level == .note && note.text == "app-password: revoked when the Google password changes")
  }

  @Test func auditCountsAPolicyWarningWithoutFailing() throws {
    var entries: [CredentialStore.Entry] = []
    for (index, provider) in ["outlook.com", "gmail"].enumerated() {
      var c = credential(provider, .appPassword)
      c.account = "acct\(index)"
      entries.append(CredentialStore.Entry(credential: c, item: KeyringItem(id: "\(index)", attributes: [:], locked: false)))
    }
    let rows = Audit.rows(entries: entries, results: [:], now: today, warningDays: 14)
    let outlook = try #require(rows.first { $0.credential.provider == "outlook.com" })
    let gmail = try #require(rows.first { $0.credential.provider == "gmail" })
    #expect(outlook.attention == .warning)
    #expect(gmail.attention == .none)
    #expect(Audit.exitStatus(rows) == .ok, "a warning leaves the exit status alone, as documented")
  }
}

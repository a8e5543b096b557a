import Testing
@testable import MailcredCore
import MailcredSpelling

@Suite struct CheckHintTests {
  func result(_ verdict: CheckClass, port: Int = 587, security: TransportSecurity = .starttls) -> CheckResult {
    CheckResult(
      endpoint: Endpoint(proto: .smtp, host: "smtp.example.org", port: port, security: security),
      verdict: verdict, detail: "", latency: 0.1)
  }

  @Test(arguments: CheckClass.allCases.filter { $0 != .ok })
  func everyFailureHasAOneLineHint(verdict: CheckClass) {
    let text = hint(for: result(verdict), provider: nil, account: "work").text
    #expect(!text.isEmpty)
    #expect(!text.contains("\n"))
  }

  @Test func okNeedsNoHint() {
    #expect(hint(for: result(.ok), provider: nil).text.isEmpty)
  }

  @Test func rejectedSuggestsRotate() {
    let text = hint(for: result(.rejected), provider: Provider.named("gmail"), account: "work").text
    #expect(text.contains("mailcred rotate work"))
    #expect(text.contains("myaccount.google.com/apppasswords"))
  }

  @Test func basicAuthDisabledSaysRotatingWillNotHelp() {
    let text = hint(for: result(.basicAuthDisabled), provider: Provider.named("office365"), account: "work").text
    #expect(text.contains("OAuth2"))
    #expect(text.contains("will not help"))
  }

  @Test func port465ForAProviderThatPrefersStartTLS() {
    let text = hint(for: result(.timeout, port: 465, security: .tls), provider: Provider.named("icloud")).text
    #expect(text.contains("587"))
    #expect(text.contains("firewall"))
  }

  @Test func outlookRejectionPointsToOAuth2() {
    let text = hint(for: result(.rejected), provider: Provider.named("outlook.com"), account: "hotmail").text
    #expect(text.contains("OAuth2"))
    #expect(!text.contains("rotate"))
  }
}

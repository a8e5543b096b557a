import Foundation
import MailcredConfig
import MailcredCore
import Testing

/// `doctor --check`'s findings from literal probe answers and check results.
@Suite struct ReachTests {
  let rc = "account work\nhost smtp.example.com\nport 587\ntls on\ntls_starttls on\nuser me@example.com\npasswordeval \"mailcred get work\"\n"

  func account(_ text: String, client: MailClient = .msmtp) throws -> (ClientAccount, ConfigFile) {
    let file = try Fixture.literal(text)
    let accounts = ClientConfig.read(file, client: client, loader: { _ in nil }).accounts
    return (try #require(accounts.first), file)
  }

  func probe(_ port: Int, _ answer: PortProbe.Answer, seconds: Double = 0.01) -> PortProbe {
    PortProbe(port: port, method: answer == .implicitTLS ? .tlsHandshake : .clearGreeting, answer: answer, detail: "d", seconds: seconds)
  }

  @Test func blocked587With465AnsweringSaysUsePort465AndTlsStarttlsOff() throws {
    let (work, file) = try account(rc)
    let findings = Reach.findings(for: work, probes: [probe(587, .timeout, seconds: 7.5), probe(465, .implicitTLS)], file: file)
    #expect(findings.map(\.text) == [
      "rc:3: error: 587 is blocked from here (no connection within 8 s); 465 answers (speaks implicit TLS) — use `port 465` + `tls_starttls off` [msmtp work]\n    write instead: port 465",
    ])
    #expect(findings.first?.code == "port-blocked")
  }

  @Test func refusedIsToldApartFromBlocked() throws {
    let (work, file) = try account(rc)
    let text = Reach.findings(for: work, probes: [probe(587, .refused), probe(465, .implicitTLS)], file: file).first?.message
    #expect(text?.hasPrefix("587 refuses connections from here (connection refused); 465 answers") == true, "\(text ?? "")")
  }

  @Test func bothBlockedMeansFilteredAndNoFix() throws {
    let (work, file) = try account(rc)
    let findings = Reach.findings(for: work, probes: [probe(587, .timeout, seconds: 4), probe(465, .timeout, seconds: 4)], file: file)
    #expect(findings.map(\.code) == ["ports-blocked"])
    #expect(findings.first?.message.contains("outbound mail is filtered on this network") == true)
    #expect(findings.first?.fix == nil)
  }

  @Test func answeringPortIsInfoAndAMeasuredMismatchIsAnError() throws {
    let (work, file) = try account(rc)
    let ok = Reach.findings(for: work, probes: [probe(587, .plaintext), probe(465, .timeout, seconds: 3)], file: file)
    #expect(ok.map(\.text) == ["rc:3: info: smtp.example.com port 587 answers from here (greets in clear: STARTTLS); 465 does not (no connection within 3 s) [msmtp work]"])
    let wrong = Reach.findings(for: work, probes: [probe(587, .implicitTLS)], file: file)
    #expect(wrong.map(\.text) == ["rc:5: error: smtp.example.com port 587 speaks implicit TLS, but the account uses STARTTLS [msmtp work]\n    write instead: tls_starttls off"])
  }

  @Test func mbsyncAercAndGitSpellTheirOwnLines() throws {
    let (imap, mfile) = try account("IMAPAccount m\nHost imap.example.com\nPort 993\nUser me\nSSLType IMAPS\n", client: .mbsync)
    #expect(Reach.findings(for: imap, probes: [probe(993, .timeout), probe(143, .plaintext)], file: mfile).first?.message
      .hasSuffix("— use `Port 143` + `SSLType STARTTLS`") == true)
    let (aerc, afile) = try account("[a]\noutgoing = smtp://me%40example.com@smtp.example.com:587\nsmtp-starttls = yes\n", client: .aerc)
    let aercFix = Reach.findings(for: aerc, probes: [probe(587, .timeout), probe(465, .implicitTLS)], file: afile).first
    #expect(aercFix?.fix == "outgoing = smtps://me%40example.com@smtp.example.com:465")
    #expect(aercFix?.line == 2)
  }

  @Test func aLiveCheckIsInfoWhenOkAndAnErrorWithTheHintOtherwise() throws {
    let (work, file) = try account(rc)
    let endpoint = Endpoint(proto: .smtp, host: "smtp.example.com", port: 587, security: .starttls)
    let ok = CheckResult(endpoint: endpoint, verdict: .ok, detail: "235", latency: 0.25)
    #expect(Reach.findings(for: work, check: ok, storedAs: "work", hint: "", file: file).map(\.text) == [
      "rc:1: info: smtp.example.com:587: work authenticated from here (250 ms) [msmtp work]",
    ])
    let rejected = CheckResult(endpoint: endpoint, verdict: .rejected, detail: "535 5.7.8 no", latency: 0.2)
    let bad = Reach.findings(for: work, check: rejected, storedAs: "work", hint: "wrong or expired (app) password: `mailcred rotate work`", file: file)
    #expect(bad.first?.severity == .error)
    #expect(bad.first?.message.hasSuffix("(rejected: 535 5.7.8 no); wrong or expired (app) password: `mailcred rotate work`") == true)
    // A live check whose port was blocked and whose alternative answered: the same finding as the probes'.
    let blocked = CheckResult(endpoint: endpoint, verdict: .timeout, detail: "no connection", latency: 7.5, probes: [probe(465, .implicitTLS)])
    #expect(Reach.findings(for: work, check: blocked, storedAs: "work", hint: "", file: file).map(\.code) == ["port-blocked"])
    let filtered = CheckResult(endpoint: endpoint, verdict: .timeout, detail: "no connection", latency: 4, probes: [probe(465, .timeout, seconds: 2)])
    #expect(Reach.findings(for: work, check: filtered, storedAs: "work", hint: "", file: file).map(\.code) == ["ports-blocked"])
  }
}

import Testing
@testable import MailcredCore

/// XOAUTH2 and OAUTHBEARER in the SMTP and IMAP exchanges, fed literal server lines.
@Suite struct BearerAuthExchangeTests {
  let token = "ya29.token"
  /// base64("user=alice@example.org\u{1}auth=Bearer ya29.token\u{1}\u{1}")
  let xoauth2 = "dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LnRva2VuAQE="
  /// base64("n,a=alice@example.org,\u{1}host=mx.example.org\u{1}port=587\u{1}auth=Bearer ya29.token\u{1}\u{1}")
  let oauthbearer = "bixhPWFsaWNlQGV4YW1wbGUub3JnLAFob3N0PW14LmV4YW1wbGUub3JnAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHlhMjkudG9rZW4BAQ=="
  /// base64({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})
  let googleError = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ=="
  /// base64({"status":"invalid_token"})
  let bearerError = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0="

  func smtpBearer(_ mechanism: BearerMechanism? = nil, security: TransportSecurity = .tls) -> SMTPAuthExchange {
    SMTPAuthExchange(
      user: testUser, secret: secret(token), security: security, clientName: "[192.0.2.1]",
      bearer: BearerAuth(mechanism: mechanism, host: "mx.example.org", port: 587))
  }

  func imapBearer(_ mechanism: BearerMechanism? = nil) -> IMAPAuthExchange {
    IMAPAuthExchange(
      user: testUser, secret: secret(token), security: .tls,
      bearer: BearerAuth(mechanism: mechanism, host: "mx.example.org", port: 587))
  }

  let greeting = "220 mx.example.org ESMTP"

  @Test func smtpPrefersXOAuth2AndSendsItAsAnInitialResponse() {
    var exchange = smtpBearer()
    let t = play(&exchange, [greeting, "250-mx.example.org", "250-AUTH LOGIN PLAIN XOAUTH2 OAUTHBEARER", "250 8BITMIME",
      "235 2.7.0 Accepted"])
    #expect(t.sent == ["EHLO [192.0.2.1]", "AUTH XOAUTH2 \(xoauth2)"])
    #expect(t.verdict == .ok)
    #expect(t.farewell == "QUIT")
  }

  @Test func smtpXOAuth2ErrorChallengeIsAnsweredWithAnEmptyLineThenTheFinalCodeDecides() {
    var exchange = smtpBearer()
    let t = play(&exchange, [greeting, "250-mx.example.org", "250 AUTH XOAUTH2 PLAIN", "334 \(googleError)",
      "535-5.7.8 Username and Password not accepted. For more information, go to", "535 5.7.8  https://support.google.com/mail/?p=BadCredentials"])
    #expect(t.sent == ["EHLO [192.0.2.1]", "AUTH XOAUTH2 \(xoauth2)", ""])
    #expect(t.verdict == .rejected)
    #expect(t.detail.hasPrefix("535 5.7.8 Username and Password not accepted."))
    #expect(t.detail.hasSuffix(#"({"status":"401","schemes":"bearer","scope":"https://mail.google.com/"})"#))
    #expect(!t.detail.contains(token))
  }

  @Test func smtpOAuthBearerAbortsWithControlA() {
    var exchange = smtpBearer(.oauthbearer)
    let t = play(&exchange, [greeting, "250-mx.example.org", "250 AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER",
      "334 \(bearerError)", "535 5.7.8 Authentication failed."])
    #expect(t.sent == ["EHLO [192.0.2.1]", "AUTH OAUTHBEARER \(oauthbearer)", "AQ=="])
    #expect(t.verdict == .rejected)
    #expect(t.detail == #"535 5.7.8 Authentication failed. ({"status":"invalid_token"})"#)
  }

  @Test func smtpStartTLSComesBeforeTheToken() {
    var exchange = smtpBearer(security: .starttls)
    let t = play(&exchange, [greeting, "250-mx", "250-STARTTLS", "250 AUTH XOAUTH2", "220 go ahead",
      "250-mx", "250 AUTH XOAUTH2", "235 2.7.0 Authentication successful"])
    #expect(t.sent == ["EHLO [192.0.2.1]", "STARTTLS", "<TLS>", "EHLO [192.0.2.1]", "AUTH XOAUTH2 \(xoauth2)"])
    #expect(t.verdict == .ok)
  }

  @Test(arguments: [
    (nil as BearerMechanism?, "250 AUTH PLAIN LOGIN", "XOAUTH2 or OAUTHBEARER"),
    (.oauthbearer, "250 AUTH PLAIN LOGIN XOAUTH2", "AUTH OAUTHBEARER"),
  ])
  func smtpWithoutTheMechanismSendsNoToken(mechanism: BearerMechanism?, offered: String, wanted: String) {
    var exchange = smtpBearer(mechanism)
    let t = play(&exchange, [greeting, "250-mx.example.org", offered])
    #expect(t.verdict == .noAuthOffered)
    #expect(t.sent == ["EHLO [192.0.2.1]"])
    #expect(t.detail.contains(wanted))
  }

  @Test func smtpMicrosoftStyleSuccessWithOnlyXOAuth2Offered() {
    var exchange = smtpBearer()
    let t = play(&exchange, ["220 AM0PR02CA0001.outlook.office365.com Microsoft ESMTP MAIL Service ready",
      "250-AM0PR02CA0001.outlook.office365.com Hello [192.0.2.1]", "250-AUTH LOGIN XOAUTH2", "250 SMTPUTF8",
      "235 2.7.0 Authentication successful"])
    #expect(t.sent.last == "AUTH XOAUTH2 \(xoauth2)")
    #expect(t.verdict == .ok)
  }

  @Test func smtpAServerQuotingTheAuthLineBackGetsItRedacted() {
    var exchange = smtpBearer()
    let t = play(&exchange, [greeting, "250-mx", "250 AUTH XOAUTH2", "501 5.5.2 Cannot decode AUTH XOAUTH2 \(xoauth2)"])
    #expect(t.verdict == .protocolError)
    #expect(!t.detail.contains(xoauth2))
    #expect(t.detail.contains("[redacted]"))
  }

  @Test func imapXOAuth2WithSASLIR() {
    var exchange = imapBearer()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER] ready",
      "A1 OK [CAPABILITY IMAP4rev1] Logged in"])
    #expect(t.sent == ["A1 AUTHENTICATE XOAUTH2 \(xoauth2)"])
    #expect(t.verdict == .ok)
    #expect(t.farewell == "A2 LOGOUT")
  }

  @Test func imapXOAuth2WithoutSASLIRWaitsForTheContinuation() {
    var exchange = imapBearer()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] ready", "+ ", "A1 OK done"])
    #expect(t.sent == ["A1 AUTHENTICATE XOAUTH2", xoauth2])
    #expect(t.verdict == .ok)
  }

  @Test func imapRefusedTokenAnswersTheChallengeAndReadsTheTaggedNo() {
    var exchange = imapBearer()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready", "+ \(googleError)",
      "A1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"])
    #expect(t.sent == ["A1 AUTHENTICATE XOAUTH2 \(xoauth2)", ""])
    #expect(t.verdict == .rejected)
    #expect(t.detail.hasPrefix("NO [AUTHENTICATIONFAILED] Invalid credentials (Failure) ({"))
  }

  @Test func imapOAuthBearerRefusedAnswersControlA() {
    var exchange = imapBearer(.oauthbearer)
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER] ready",
      "+ \(bearerError)", "A1 NO [AUTHENTICATIONFAILED] Authentication failed."])
    #expect(t.sent == ["A1 AUTHENTICATE OAUTHBEARER \(oauthbearer)", "AQ=="])
    #expect(t.verdict == .rejected)
  }

  @Test func imapUnavailableIsTemporary() {
    var exchange = imapBearer()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
      "A1 NO [UNAVAILABLE] Temporary authentication failure."])
    #expect(t.verdict == .temporary)
  }

  @Test func imapWithoutBearerMechanismsSendsNothing() {
    var exchange = imapBearer()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready"])
    #expect(t.verdict == .noAuthOffered)
    #expect(t.sent.isEmpty)
  }

  @Test func oauthBearerEscapesCommaAndEqualsInTheUser() {
    let credentials = SASLCredentials(user: "a,b=c", secret: secret("t"))
    let line = credentials.bearerLine(.oauthbearer, BearerAuth(mechanism: nil, host: "h", port: 1), prefix: "")
    let decoded = base64Decode(String(decoding: line.bytes.dropLast(2), as: UTF8.self))
    #expect(decoded.map { String(decoding: $0, as: UTF8.self) } == "n,a=a=2Cb=3Dc,\u{1}host=h\u{1}port=1\u{1}auth=Bearer t\u{1}\u{1}")
  }
}

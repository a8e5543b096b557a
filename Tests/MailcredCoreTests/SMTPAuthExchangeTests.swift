import Testing
@testable import MailcredCore

@Suite struct SMTPAuthExchangeTests {
  let greeting = "220 mx.example.org ESMTP ready"
  let ehloBeforeTLS = ["250-mx.example.org", "250-PIPELINING", "250-STARTTLS", "250 AUTH LOGIN"]

  @Test func starttlsThenPlainWithCapabilitiesAskedAgain() {
    var exchange = smtp()
    let t = play(&exchange, [greeting] + ehloBeforeTLS + ["220 2.0.0 Ready to start TLS"]
      + ["250-mx.example.org", "250-AUTH PLAIN LOGIN", "250 8BITMIME", "235 2.7.0 Authentication successful"])
    // PLAIN was not offered before TLS: choosing it proves the first list was discarded (RFC 3207).
    #expect(t.sent == ["EHLO [192.0.2.1]", "STARTTLS", "<TLS>", "EHLO [192.0.2.1]", "AUTH PLAIN \(plainIR)"])
    #expect(t.verdict == .ok)
    #expect(t.detail == "235 2.7.0 Authentication successful")
    #expect(t.farewell == "QUIT")
  }

  @Test func loginAnswersBothPrompts() {
    var exchange = smtp()
    let t = play(&exchange, [greeting] + ehloBeforeTLS + ["220 go ahead", "250-mx", "250 AUTH LOGIN",
      "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 2.7.0 Accepted"])
    #expect(t.sent.suffix(3) == ["AUTH LOGIN", "YWxpY2VAZXhhbXBsZS5vcmc=", "czNjcmV0IQ=="])
    #expect(t.verdict == .ok)
  }

  @Test func loginRejectedAfterPassword() {
    var exchange = smtp(.tls)
    let t = play(&exchange, [greeting, "250-mx", "250 AUTH=LOGIN", "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
      "535 5.7.8 Authentication credentials invalid"])
    #expect(t.sent == ["EHLO [192.0.2.1]", "AUTH LOGIN", "YWxpY2VAZXhhbXBsZS5vcmc=", "czNjcmV0IQ=="])
    #expect(t.verdict == .rejected)
  }

  @Test func starttlsMissingStopsBeforeAnyCredential() {
    var exchange = smtp()
    let t = play(&exchange, [greeting, "250-mx.example.org", "250-AUTH PLAIN LOGIN", "250 SIZE 1000000"])
    #expect(t.verdict == .starttlsMissing)
    #expect(t.sent == ["EHLO [192.0.2.1]"])
    #expect(!t.sentCredentials)
    #expect(t.farewell == "QUIT")
  }

  @Test(arguments: [
    ("454 4.7.0 TLS not available due to local problem", CheckClass.temporary),
    ("421 4.3.2 Service shutting down", .temporary),
    ("502 5.5.1 Command not implemented", .starttlsMissing),
  ])
  func starttlsRefusedSendsNoCredential(reply: String, expected: CheckClass) {
    var exchange = smtp()
    let t = play(&exchange, [greeting] + ehloBeforeTLS + [reply, "250 AUTH PLAIN"])
    #expect(t.verdict == expected)
    #expect(t.sent == ["EHLO [192.0.2.1]", "STARTTLS"])
    #expect(!t.sentCredentials)
  }

  @Test func microsoftBasicAuthDisabledIsNotRetried() {
    var exchange = smtp()
    let t = play(&exchange, [greeting] + ehloBeforeTLS + ["220 ok", "250-mx", "250 AUTH PLAIN LOGIN XOAUTH2",
      "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [AM0PR02CA0001.eurprd02.prod.outlook.com]",
      "334 VXNlcm5hbWU6"])
    #expect(t.verdict == .basicAuthDisabled)
    #expect(t.sent.filter { $0.hasPrefix("AUTH") }.count == 1)
    #expect(t.detail.hasPrefix("535 5.7.139 Authentication unsuccessful, basic authentication is disabled."))
  }

  @Test func gmailMultiLineAppPasswordRequired() {
    var exchange = smtp()
    let t = play(&exchange, [greeting] + ehloBeforeTLS + ["220 2.0.0 Ready to start TLS",
      "250-smtp.gmail.com at your service, [203.0.113.7]", "250-SIZE 35882577", "250-8BITMIME",
      "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", "250-ENHANCEDSTATUSCODES",
      "250-PIPELINING", "250-CHUNKING", "250 SMTPUTF8",
      "534-5.7.9 Application-specific password required. Learn more at",
      "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor d9443c01a7336-1f3 - gsmtp"])
    #expect(t.verdict == .appPasswordRequired)
    #expect(t.sent.last == "AUTH PLAIN \(plainIR)")
    #expect(t.detail == "534 5.7.9 Application-specific password required. Learn more at "
      + "https://support.google.com/mail/?p=InvalidSecondFactor d9443c01a7336-1f3 - gsmtp")
  }

  @Test(arguments: [
    ["hello"],
    ["22 short"],
    ["2200 ready"],
    ["220_ready"],
    ["999 what"],
    ["220-mx", "221 changed code"],
    ["", "220 x"],
  ])
  func malformedRepliesAreProtocolErrors(lines: [String]) {
    var exchange = smtp()
    let t = play(&exchange, lines)
    #expect(t.verdict == .protocolError)
    #expect(t.sent.isEmpty)
  }

  @Test func bareCodeIsAValidReply() {
    var exchange = smtp(.tls)
    let t = play(&exchange, ["220", "250", "x"])
    #expect(t.verdict == .noAuthOffered)
  }

  @Test func implicitTLSGoesStraightToAuth() {
    var exchange = smtp(.tls)
    let t = play(&exchange, [greeting, "250-mx", "250-STARTTLS", "250 AUTH PLAIN", "235 ok"])
    #expect(t.sent == ["EHLO [192.0.2.1]", "AUTH PLAIN \(plainIR)"])
    #expect(t.verdict == .ok)
  }

  @Test func oauthOnlyServerOffersNoUsableMechanism() {
    var exchange = smtp(.tls)
    let t = play(&exchange, [greeting, "250-mx", "250 AUTH XOAUTH2 OAUTHBEARER"])
    #expect(t.verdict == .noAuthOffered)
    #expect(t.detail.contains("XOAUTH2"))
    #expect(!t.sentCredentials)
  }

  @Test func noAuthAfterTLS() {
    var exchange = smtp()
    let t = play(&exchange, [greeting] + ehloBeforeTLS + ["220 go", "250-mx", "250 SIZE 10"])
    #expect(t.verdict == .noAuthOffered)
  }

  @Test(arguments: [
    ("421 4.7.0 Too many connections", CheckClass.temporary),
    ("554 5.7.1 Client host blocked", .protocolError),
  ])
  func greetingRefusal(line: String, expected: CheckClass) {
    var exchange = smtp()
    let t = play(&exchange, [line])
    #expect(t.verdict == expected)
    #expect(t.sent.isEmpty)
  }

  @Test func unexpectedChallengeAfterPlainIsAProtocolError() {
    var exchange = smtp(.tls)
    let t = play(&exchange, [greeting, "250-mx", "250 AUTH PLAIN", "334 "])
    #expect(t.verdict == .protocolError)
  }

  @Test func serverEchoOfTheSecretIsRedacted() {
    var exchange = smtp(.tls)
    let t = play(&exchange, [greeting, "250-mx", "250 AUTH PLAIN", "501 5.5.2 cannot decode \(plainIR) for s3cret!"])
    #expect(!t.detail.contains(plainIR))
    #expect(!t.detail.contains(testSecret))
    #expect(t.detail.contains("[redacted]"))
  }

  @Test func greetingCloseVerdict() {
    let exchange = smtp()
    #expect(exchange.verdictOnClose().0 == .protocolError)
  }

  @Test func endlessMultiLineReplyIsBounded() {
    var exchange = smtp()
    let t = play(&exchange, Array(repeating: "220-hello", count: 1000))
    #expect(t.verdict == .protocolError)
  }
}

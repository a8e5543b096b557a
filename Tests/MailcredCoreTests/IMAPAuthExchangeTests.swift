import Testing
@testable import MailcredCore

@Suite struct IMAPAuthExchangeTests {
  /// base64("\0alice\0s3cret!")
  let plain = "AGFsaWNlAHMzY3JldCE="

  @Test func saslIRFromGreetingCapabilities() {
    var exchange = imap()
    let t = play(&exchange, [
      "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready.",
      "A1 OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE SORT] Logged in",
    ])
    #expect(t.sent == ["A1 AUTHENTICATE PLAIN \(plain)"])
    #expect(t.verdict == .ok)
    #expect(t.farewell == "A2 LOGOUT")
  }

  @Test func starttlsThenAuthenticateWithContinuation() {
    var exchange = imap(.starttls)
    let t = play(&exchange, [
      "* OK Dovecot ready.",
      "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED AUTH=PLAIN SASL-IR", "A1 OK Pre-login capabilities listed",
      "A2 OK Begin TLS negotiation now.",
      "* CAPABILITY IMAP4rev1 AUTH=PLAIN", "A3 OK Capability completed.",
      "+ ",
      "A4 NO [AUTHENTICATIONFAILED] Authentication failed.",
    ])
    // SASL-IR was advertised only before TLS, so it is not used after.
    #expect(t.sent == ["A1 CAPABILITY", "A2 STARTTLS", "<TLS>", "A3 CAPABILITY", "A4 AUTHENTICATE PLAIN", plain])
    #expect(t.verdict == .rejected)
    #expect(t.detail == "NO [AUTHENTICATIONFAILED] Authentication failed.")
  }

  @Test func starttlsMissingOn143SendsNoCredential() {
    var exchange = imap(.starttls)
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready", "A1 OK"])
    #expect(t.verdict == .starttlsMissing)
    #expect(t.sent.isEmpty)
  }

  @Test func starttlsRefused() {
    var exchange = imap(.starttls)
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 STARTTLS] ready", "A1 BAD not now"])
    #expect(t.verdict == .starttlsMissing)
    #expect(!t.sentCredentials)
  }

  @Test func loginDisabledWithoutPlain() {
    var exchange = imap()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=XOAUTH2] ready"])
    #expect(t.verdict == .noAuthOffered)
    #expect(t.sent.isEmpty)
  }

  @Test func loginQuotesSpecialCharacters() {
    var exchange = imap(secret: #"pa"ss\word"#)
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1] ready", "A1 OK LOGIN completed"])
    #expect(t.sent == [#"A1 LOGIN "alice" "pa\"ss\\word""#])
    #expect(t.verdict == .ok)
  }

  @Test func loginUsesSynchronisingLiteralForNonASCII() {
    var exchange = imap(secret: "pässwörd")
    let t = play(&exchange, ["* OK ready", "* CAPABILITY IMAP4rev1", "A1 OK", "+ Ready for literal data",
      "A2 NO [AUTHENTICATIONFAILED] Authentication failed."])
    #expect(t.sent == ["A1 CAPABILITY", "A2 LOGIN \"alice\" {10}", "pässwörd"])
    #expect(t.verdict == .rejected)
  }

  @Test func loginUsesLiteralPlusInOneLine() {
    var exchange = imap(secret: "pässwörd")
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 LITERAL+] ready", "A1 OK"])
    #expect(t.sent == ["A1 LOGIN \"alice\" {10+}\r\npässwörd"])
  }

  @Test(arguments: [
    ("* PREAUTH [CAPABILITY IMAP4rev1] logged in as alice", CheckClass.protocolError),
    ("* BYE Too many connections from your IP", .temporary),
    ("garbage", .protocolError),
    ("* NO go away", .protocolError),
  ])
  func greetings(line: String, expected: CheckClass) {
    var exchange = imap()
    let t = play(&exchange, [line])
    #expect(t.verdict == expected)
    #expect(t.sent.isEmpty)
  }

  @Test func gmailAppPasswordRequired() {
    var exchange = imap()
    let t = play(&exchange, ["* OK Gimap ready for requests from 203.0.113.7",
      "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER",
      "A1 OK Thats all she wrote!",
      "A2 NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)"])
    #expect(t.sent == ["A1 CAPABILITY", "A2 AUTHENTICATE PLAIN \(plain)"])
    #expect(t.verdict == .appPasswordRequired)
  }

  @Test func wrongTagIsAProtocolError() {
    var exchange = imap()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready", "Z9 OK whatever"])
    #expect(t.verdict == .protocolError)
  }

  @Test func continuationAfterInitialResponseIsAProtocolError() {
    var exchange = imap()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready", "+ more?"])
    #expect(t.verdict == .protocolError)
    #expect(t.sent.count == 1)
  }

  @Test func byeThenCloseIsTemporary() {
    var exchange = imap()
    _ = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready", "* BYE Server shutting down"])
    #expect(exchange.verdictOnClose().0 == .temporary)
  }

  @Test func untaggedNoiseIsIgnored() {
    var exchange = imap()
    let t = play(&exchange, ["* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready", "* 3 EXISTS",
      "* OK [ALERT] System maintenance tonight", "A1 OK done"])
    #expect(t.verdict == .ok)
  }
}

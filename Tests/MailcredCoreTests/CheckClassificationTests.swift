import Testing
@testable import MailcredCore

@Suite struct CheckClassificationTests {
  /// Final SMTP replies to AUTH (multi-line replies joined with "\n").
  @Test(arguments: [
    ("235 2.7.0 Authentication successful", CheckClass.ok),
    ("535 5.7.8 Authentication failed.", .rejected),
    ("535 5.7.8 Username and Password not accepted. Learn more at", .rejected),
    ("535 5.7.3 Authentication unsuccessful", .rejected),
    ("535 Authentication failed", .rejected),
    ("534-5.7.9 Application-specific password required. Learn more at\n534 5.7.9 https://support.google.com/mail/?p=InvalidSecondFactor", .appPasswordRequired),
    ("534 5.7.14 Please log in with your web browser and then try again.", .rejected),
    ("535 5.7.139 Authentication unsuccessful, basic authentication is disabled.", .basicAuthDisabled),
    ("535 5.7.139 Authentication unsuccessful, the request did not meet the criteria to be authenticated successfully.", .basicAuthDisabled),
    ("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.", .basicAuthDisabled),
    ("550 5.7.30 Basic authentication is not supported for Client Submission.", .basicAuthDisabled),
    ("535 5.7.3 Authentication unsuccessful, basic authentication is disabled", .basicAuthDisabled),
    ("454 4.7.0 Temporary authentication failure.", .temporary),
    ("421 4.7.0 Try again later, closing connection.", .temporary),
    ("432 4.7.12 A password transition is needed", .temporary),
    ("504 5.5.4 Unrecognized authentication type", .noAuthOffered),
    ("500 5.5.1 Command unrecognized", .protocolError),
    ("530 5.7.0 Must issue a STARTTLS command first", .protocolError),
    ("250 2.0.0 OK", .protocolError),
  ])
  func smtpAuthReplies(text: String, expected: CheckClass) {
    var reader = SMTPReplyReader()
    var outcome = SMTPReplyReader.Outcome.incomplete
    for line in text.split(separator: "\n") { outcome = reader.feed(Array(line.utf8)) }
    guard case .complete(let reply) = outcome else {
      Issue.record("not a complete reply: \(text)")
      return
    }
    #expect(classifySMTPAuthReply(reply) == expected)
  }

  @Test(arguments: [
    ("A1 OK [CAPABILITY IMAP4rev1] Logged in", CheckClass.ok),
    ("A1 NO [AUTHENTICATIONFAILED] Authentication failed.", .rejected),
    ("A1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", .rejected),
    ("A1 NO [AUTHORIZATIONFAILED] not allowed", .rejected),
    ("A1 NO [EXPIRED] password expired", .rejected),
    ("A1 NO LOGIN failed.", .rejected),
    ("A1 NO AUTHENTICATE failed.", .rejected),
    ("A1 NO [UNAVAILABLE] Temporary authentication failure.", .temporary),
    ("A1 NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)", .appPasswordRequired),
    ("A1 NO basic authentication is disabled", .basicAuthDisabled),
    ("A1 BAD Invalid SASL argument", .protocolError),
  ])
  func imapAuthResponses(line: String, expected: CheckClass) {
    #expect(classifyIMAPAuthLine(line) == expected)
  }

  @Test func untaggedLineIsNotAnAuthAnswer() {
    #expect(classifyIMAPAuthLine("* OK fine") == nil)
  }

  @Test(arguments: [
    ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
    ("foobar", "Zm9vYmFy"),
  ])
  func base64RFC4648Vectors(input: String, output: String) {
    #expect(Base64.encode(Array(input.utf8)) == output)
  }

  @Test func enhancedStatusParsing() {
    #expect(SMTPReply(code: 535, lines: ["5.7.139 text"]).enhanced == EnhancedStatus(5, 7, 139))
    #expect(SMTPReply(code: 535, lines: ["Authentication failed"]).enhanced == nil)
    #expect(SMTPReply(code: 250, lines: ["2.0.0"]).enhanced == EnhancedStatus(2, 0, 0))
    #expect(SMTPReply(code: 535, lines: ["5.7.1234 x"]).enhanced == nil)
  }
}

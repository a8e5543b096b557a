@testable import MailcredCore

/// What a client said in answer to a scripted server, and how it ended.
struct AuthTranscript {
  var sent: [String] = []
  var verdict: CheckClass?
  var detail = ""
  var farewell: String?

  /// Whether any line the client sent carried credentials (AUTH, LOGIN, a SASL response).
  var sentCredentials: Bool {
    sent.contains { $0.hasPrefix("AUTH") || $0.contains("LOGIN \"") || $0.contains("AUTHENTICATE") || $0 == plainIR }
  }
}

let testUser = "alice@example.org"
let testSecret = "s3cret!"
/// base64("\0alice@example.org\0s3cret!")
let plainIR = "AGFsaWNlQGV4YW1wbGUub3JnAHMzY3JldCE="

func secret(_ text: String = testSecret) -> SecretBytes { SecretBytes(taking: Array(text.utf8)) }

/// Plays `server` lines into `exchange`, acting as the driver: sends are recorded (CRLF stripped),
/// STARTTLS is recorded as `<TLS>`; stops at the verdict or when the script runs out.
func play<Exchange: AuthExchange>(_ exchange: inout Exchange, _ server: [String]) -> AuthTranscript {
  var transcript = AuthTranscript()
  var lines = server[...]
  var step = AuthStep.readLine
  func text(_ bytes: [UInt8]) -> String {
    var s = String(decoding: bytes, as: UTF8.self)
    while s.hasSuffix("\r\n") { s.removeLast() }  // "\r\n" is one Character
    return s
  }
  while true {
    switch step {
    case .readLine:
      guard let line = lines.popFirst() else { return transcript }
      step = exchange.receive(line)
    case .send(let bytes):
      transcript.sent.append(text(bytes))
      step = .readLine
    case .sendSecret(let secret):
      transcript.sent.append(text(secret.bytes))
      secret.wipe()
      step = .readLine
    case .startTLS:
      transcript.sent.append("<TLS>")
      step = exchange.tlsEstablished()
    case .finished(let verdict, let detail, let farewell):
      transcript.verdict = verdict
      transcript.detail = detail
      transcript.farewell = farewell.map(text)
      return transcript
    }
  }
}

func smtp(_ security: TransportSecurity = .starttls, secret text: String = testSecret) -> SMTPAuthExchange {
  SMTPAuthExchange(user: testUser, secret: secret(text), security: security, clientName: "[192.0.2.1]")
}

func imap(_ security: TransportSecurity = .tls, secret text: String = testSecret) -> IMAPAuthExchange {
  IMAPAuthExchange(user: "alice", secret: secret(text), security: security)
}

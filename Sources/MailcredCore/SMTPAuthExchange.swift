/// SMTP submission authentication (RFC 5321, 3207, 4954): greeting → EHLO → STARTTLS → EHLO → AUTH → QUIT.
///
/// Stops at the first definitive answer: a rejected AUTH is never retried with another mechanism, which
/// would double the server's failure penalty and the lockout risk.
public struct SMTPAuthExchange: AuthExchange {
  enum Stage: Equatable {
    case greeting, ehlo, starttls, ehloAfterTLS, authPlain, authLoginUser, authLoginSecret, authResult, done
    /// AUTH XOAUTH2 / OAUTHBEARER sent with the token; then the server's error challenge was answered.
    case authBearer(BearerMechanism), bearerFailed(String)
  }

  private let credentials: SASLCredentials
  private let security: TransportSecurity
  private let clientName: String
  private var reader = SMTPReplyReader()
  private(set) var stage = Stage.greeting
  private var finish: AuthStep?
  /// Set when `secret` is an OAuth2 access token (XOAUTH2 / OAUTHBEARER instead of PLAIN / LOGIN).
  private let bearer: BearerAuth?

  /// `clientName` is the EHLO argument: a domain, or an address literal such as `[192.0.2.1]`.
  /// With `.tls` the driver has completed the handshake before the greeting arrives.
  public init(user: String, secret: SecretBytes, security: TransportSecurity, clientName: String, bearer: BearerAuth? = nil) {
    self.credentials = SASLCredentials(user: user, secret: secret)
    self.security = security
    self.clientName = clientName
    self.bearer = bearer
  }

  public mutating func receive(_ line: [UInt8]) -> AuthStep {
    if let finish { return finish }
    switch reader.feed(line) {
    case .incomplete: return .readLine
    case .malformed(let why): return done(.protocolError, why)
    case .complete(let reply): return handle(reply)
    }
  }

  public mutating func tlsEstablished() -> AuthStep {
    guard stage == .starttls else { return done(.protocolError, "TLS started outside STARTTLS") }
    // RFC 3207 4.2: everything learnt before TLS is discarded; ask again.
    stage = .ehloAfterTLS
    return .send(Array("EHLO \(clientName)\r\n".utf8))
  }

  public func verdictOnClose() -> (CheckClass, String) {
    (.protocolError, "the server closed the connection" + (stage == .greeting ? " before its greeting" : ""))
  }

  private mutating func handle(_ reply: SMTPReply) -> AuthStep {
    switch stage {
    case .greeting:
      guard reply.code == 220 else { return refusal(reply, at: "greeting") }
      stage = .ehlo
      return .send(Array("EHLO \(clientName)\r\n".utf8))

    case .ehlo, .ehloAfterTLS:
      guard reply.code == 250 else { return refusal(reply, at: "EHLO") }
      let capabilities = SMTPCapabilities(ehlo: reply)
      if security == .starttls && stage == .ehlo {
        // No credential byte may cross an unencrypted connection: without STARTTLS we stop here.
        guard capabilities.keywords.contains("STARTTLS") else {
          return done(.starttlsMissing, "the server did not offer STARTTLS (EHLO: \(reply.summary))")
        }
        stage = .starttls
        return .send(Array("STARTTLS\r\n".utf8))
      }
      return authenticate(capabilities, reply)

    case .starttls:
      if reply.code == 220 { return .startTLS }
      if reply.code / 100 == 4 { return done(.temporary, reply.summary) }
      return done(.starttlsMissing, "STARTTLS refused: \(reply.summary)")

    case .authPlain, .authResult:
      if reply.code == 334 { return done(.protocolError, "unexpected challenge after the credentials: \(reply.summary)") }
      return done(classifySMTPAuthReply(reply), reply.summary)

    case .authLoginUser:
      guard reply.code == 334 else { return done(classifySMTPAuthReply(reply), reply.summary) }
      stage = .authLoginSecret
      return .send(Array((Base64.encode(Array(credentials.user.utf8)) + "\r\n").utf8))

    case .authLoginSecret:
      guard reply.code == 334 else { return done(classifySMTPAuthReply(reply), reply.summary) }
      stage = .authResult
      return .sendSecret(credentials.secretLine())

    case .authBearer(let mechanism):
      // A refused token gets a 334 with a base64 JSON error; the exchange must be finished with the
      // mechanism's empty / ^A response before the server sends its final code.
      guard reply.code == 334 else { return done(classifySMTPAuthReply(reply), reply.summary) }
      stage = .bearerFailed(bearerChallengeText(reply.lines.joined()))
      return .send(Array(mechanism.abortResponse.utf8))

    case .bearerFailed(let challenge):
      if reply.code == 334 { return done(.protocolError, "a second challenge after the token was refused: \(reply.summary)") }
      return done(classifySMTPAuthReply(reply), reply.summary + (challenge.isEmpty ? "" : " (\(challenge))"))

    case .done:
      return finish ?? .readLine
    }
  }

  private mutating func authenticate(_ capabilities: SMTPCapabilities, _ ehlo: SMTPReply) -> AuthStep {
    guard let mechanisms = capabilities.authMechanisms else {
      return done(.noAuthOffered, "the server advertises no AUTH" + (security == .plain ? "" : " after TLS"))
    }
    if let bearer {
      guard let mechanism = bearer.choose(mechanisms) else { return done(.noAuthOffered, bearer.refusal(mechanisms)) }
      stage = .authBearer(mechanism)
      return .sendSecret(credentials.bearerLine(mechanism, bearer, prefix: "AUTH \(mechanism.rawValue) "))
    }
    if mechanisms.contains("PLAIN") {
      stage = .authPlain
      return .sendSecret(credentials.plainLine(prefix: "AUTH PLAIN "))
    }
    if mechanisms.contains("LOGIN") {
      stage = .authLoginUser
      return .send(Array("AUTH LOGIN\r\n".utf8))
    }
    return done(
      .noAuthOffered,
      "the server offers AUTH \(mechanisms.joined(separator: " ")); mailcred speaks PLAIN and LOGIN")
  }

  /// A non-success reply before AUTH: 4xx is the server's "try later", anything else is unexpected.
  private mutating func refusal(_ reply: SMTPReply, at what: String) -> AuthStep {
    let verdict: CheckClass = reply.code / 100 == 4 ? .temporary : .protocolError
    return done(verdict, "\(what) answered: \(reply.summary)")
  }

  private mutating func done(_ verdict: CheckClass, _ detail: String) -> AuthStep {
    stage = .done
    let step = AuthStep.finished(verdict, detail: credentials.redacting(detail, bearer: bearer), farewell: Array("QUIT\r\n".utf8))
    finish = step
    return step
  }
}

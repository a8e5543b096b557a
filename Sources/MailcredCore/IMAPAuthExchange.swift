/// IMAP authentication (RFC 9051/3501, 4959 SASL-IR, 7888 LITERAL+): greeting → CAPABILITY → STARTTLS →
/// CAPABILITY → AUTHENTICATE PLAIN or LOGIN → LOGOUT.
///
/// Literals sent *by the server* are not parsed: nothing in this exchange carries one.
public struct IMAPAuthExchange: AuthExchange {
  enum Stage: Equatable {
    case greeting
    case capability(String)
    case starttls(String)
    /// AUTHENTICATE sent; `awaitingContinuation` while the payload waits for the server's `+`.
    case authenticate(String, awaitingContinuation: Bool)
    /// LOGIN sent; `pending` chunks wait for `+` (synchronising literals).
    case login(String)
    /// AUTHENTICATE XOAUTH2 / OAUTHBEARER sent; `challenge` holds the server's error once it refused.
    case bearer(String, BearerMechanism, awaitingContinuation: Bool, challenge: String?)
    case done
  }

  private let credentials: SASLCredentials
  private let security: TransportSecurity
  private(set) var stage = Stage.greeting
  private var capabilities: Set<String> = []
  private var tlsActive: Bool
  private var tagNumber = 0
  private var pendingChunks: [SecretBytes] = []
  private var bye: String?
  private var finish: AuthStep?
  /// Set when `secret` is an OAuth2 access token (XOAUTH2 / OAUTHBEARER instead of PLAIN / LOGIN).
  private let bearer: BearerAuth?

  /// With `.tls` the driver has completed the handshake before the greeting arrives.
  public init(user: String, secret: SecretBytes, security: TransportSecurity, bearer: BearerAuth? = nil) {
    self.credentials = SASLCredentials(user: user, secret: secret)
    self.security = security
    self.tlsActive = security == .tls
    self.bearer = bearer
  }

  public mutating func receive(_ line: [UInt8]) -> AuthStep {
    if let finish { return finish }
    guard let response = IMAPResponse(line: line) else {
      return done(.protocolError, "malformed response: \(quoted(line))")
    }
    switch response {
    case .untagged(let kind, let code, let text):
      return untagged(kind, code, text)
    case .continuation:
      return continuation(line)
    case .tagged(let tag, let status, let code, let text):
      return tagged(tag, status, code, text)
    }
  }

  public mutating func tlsEstablished() -> AuthStep {
    guard case .starttls = stage else { return done(.protocolError, "TLS started outside STARTTLS") }
    // RFC 9051 6.2.1: capabilities learnt before TLS are discarded.
    tlsActive = true
    capabilities = []
    return command("CAPABILITY") { .capability($0) }
  }

  public func verdictOnClose() -> (CheckClass, String) {
    // A BYE may quote the AUTHENTICATE line back: redacted like every other detail.
    if let bye { return (.temporary, credentials.redacting("the server said BYE: \(bye)", bearer: bearer)) }
    return (.protocolError, "the server closed the connection" + (stage == .greeting ? " before its greeting" : ""))
  }

  private mutating func untagged(_ kind: String, _ code: IMAPResponseCode?, _ text: String) -> AuthStep {
    if code?.name == "CAPABILITY" { capabilities = Set(code!.arguments.map { $0.uppercased() }) }
    if stage == .greeting {
      switch kind {
      case "OK":
        return code?.name == "CAPABILITY" ? afterCapabilities() : command("CAPABILITY") { .capability($0) }
      case "PREAUTH":
        return done(.protocolError, "the server pre-authenticated the connection, so the secret was not checked: "
          + imapSummary("PREAUTH", code, text))
      case "BYE": return done(.temporary, imapSummary("BYE", code, text))
      default: return done(.protocolError, "unexpected greeting: " + imapSummary(kind, code, text))
      }
    }
    switch kind {
    case "CAPABILITY":
      if case .capability = stage {
        capabilities.formUnion(text.split(separator: " ").map { $0.uppercased() })
      }
    case "BYE": bye = imapSummary("BYE", code, text)
    default: break
    }
    return .readLine
  }

  private mutating func continuation(_ line: [UInt8]) -> AuthStep {
    switch stage {
    case .authenticate(let tag, true):
      stage = .authenticate(tag, awaitingContinuation: false)
      return .sendSecret(credentials.plainLine(prefix: ""))
    case .login where !pendingChunks.isEmpty:
      return .sendSecret(pendingChunks.removeFirst())
    case .bearer(let tag, let mechanism, true, _):
      stage = .bearer(tag, mechanism, awaitingContinuation: false, challenge: nil)
      return .sendSecret(credentials.bearerLine(mechanism, bearer!, prefix: ""))
    case .bearer(let tag, let mechanism, false, nil):
      // The token was refused: `+ base64(JSON)`; answer so that the tagged NO follows (RFC 7628 3.2.3).
      stage = .bearer(tag, mechanism, awaitingContinuation: false, challenge: bearerChallengeText(String(decoding: line.dropFirst(2), as: UTF8.self)))
      return .send(Array(mechanism.abortResponse.utf8))
    default:
      return done(.protocolError, "unexpected continuation: \(quoted(line))")
    }
  }

  private mutating func tagged(_ tag: String, _ status: IMAPStatus, _ code: IMAPResponseCode?, _ text: String)
    -> AuthStep
  {
    let summary = imapSummary(status.rawValue, code, text)
    switch stage {
    case .capability(tag):
      guard status == .ok else { return done(.protocolError, "CAPABILITY answered: \(summary)") }
      return afterCapabilities()
    case .starttls(tag):
      if status == .ok { return .startTLS }
      if code?.name == "UNAVAILABLE" { return done(.temporary, summary) }
      return done(.starttlsMissing, "STARTTLS refused: \(summary)")
    case .authenticate(tag, _), .login(tag):
      pendingChunks.forEach { $0.wipe() }
      pendingChunks = []
      return done(classifyIMAPAuthResponse(status, code, text), summary)
    case .bearer(tag, _, _, let challenge):
      let shown = challenge.map { $0.isEmpty ? summary : "\(summary) (\($0))" } ?? summary
      return done(classifyIMAPAuthResponse(status, code, text), shown)
    default:
      return done(.protocolError, "unexpected tagged response: \(oneLine(tag)) \(summary)")
    }
  }

  private mutating func afterCapabilities() -> AuthStep {
    if security == .starttls && !tlsActive {
      // No credential byte may cross an unencrypted connection: without STARTTLS we stop here.
      guard capabilities.contains("STARTTLS") else {
        return done(.starttlsMissing, "the server did not offer STARTTLS (CAPABILITY \(capabilityList))")
      }
      return command("STARTTLS") { .starttls($0) }
    }
    if let bearer {
      let offered = capabilities.filter { $0.hasPrefix("AUTH=") }.map { String($0.dropFirst(5)) }.sorted()
      guard let mechanism = bearer.choose(offered) else { return done(.noAuthOffered, bearer.refusal(offered)) }
      let tag = nextTag()
      if capabilities.contains("SASL-IR") {
        stage = .bearer(tag, mechanism, awaitingContinuation: false, challenge: nil)
        return .sendSecret(credentials.bearerLine(mechanism, bearer, prefix: "\(tag) AUTHENTICATE \(mechanism.rawValue) "))
      }
      stage = .bearer(tag, mechanism, awaitingContinuation: true, challenge: nil)
      return .send(Array("\(tag) AUTHENTICATE \(mechanism.rawValue)\r\n".utf8))
    }
    if capabilities.contains("AUTH=PLAIN") {
      if capabilities.contains("SASL-IR") {
        let tag = nextTag()
        stage = .authenticate(tag, awaitingContinuation: false)
        return .sendSecret(credentials.plainLine(prefix: "\(tag) AUTHENTICATE PLAIN "))
      }
      return command("AUTHENTICATE PLAIN") { .authenticate($0, awaitingContinuation: true) }
    }
    guard !capabilities.contains("LOGINDISABLED") else {
      return done(.noAuthOffered, "the server disables LOGIN and offers no AUTH=PLAIN (CAPABILITY \(capabilityList))")
    }
    let tag = nextTag()
    stage = .login(tag)
    pendingChunks = loginChunks(tag: tag, literalPlus: capabilities.contains("LITERAL+"))
    return .sendSecret(pendingChunks.removeFirst())
  }

  private var capabilityList: String { oneLine(capabilities.sorted().joined(separator: " ")) }

  /// `TAG LOGIN user secret` as quoted strings where they fit, literals otherwise (non-ASCII). Without
  /// LITERAL+ each literal's bytes go in a new chunk, sent after the server's `+`.
  private func loginChunks(tag: String, literalPlus: Bool) -> [SecretBytes] {
    let user = Array(credentials.user.utf8)
    let bound = 2 * (user.count + credentials.secret.count) + tag.utf8.count + 64
    var chunks: [SecretBytes] = []
    var chunk: [UInt8] = []
    chunk.reserveCapacity(bound)
    chunk.append(contentsOf: "\(tag) LOGIN".utf8)
    func append(_ bytes: UnsafeRawBufferPointer) {
      chunk.append(32)
      if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
        chunk.append(UInt8(ascii: "\""))
        for byte in bytes {
          if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { chunk.append(UInt8(ascii: "\\")) }
          chunk.append(byte)
        }
        chunk.append(UInt8(ascii: "\""))
        return
      }
      chunk.append(contentsOf: "{\(bytes.count)\(literalPlus ? "+" : "")}\r\n".utf8)
      if !literalPlus {
        chunks.append(SecretBytes(taking: chunk))
        chunk = []
        chunk.reserveCapacity(bound)
      }
      chunk.append(contentsOf: bytes)
    }
    user.withUnsafeBytes { append($0) }
    credentials.secret.withUnsafeBytes { append($0) }
    chunk.append(contentsOf: [13, 10])
    chunks.append(SecretBytes(taking: chunk))
    return chunks
  }

  private mutating func nextTag() -> String {
    tagNumber += 1
    return "A\(tagNumber)"
  }

  private mutating func command(_ text: String, _ next: (String) -> Stage) -> AuthStep {
    let tag = nextTag()
    stage = next(tag)
    return .send(Array("\(tag) \(text)\r\n".utf8))
  }

  private mutating func done(_ verdict: CheckClass, _ detail: String) -> AuthStep {
    stage = .done
    pendingChunks.forEach { $0.wipe() }
    pendingChunks = []
    let step = AuthStep.finished(
      verdict, detail: credentials.redacting(detail, bearer: bearer), farewell: Array("\(nextTag()) LOGOUT\r\n".utf8))
    finish = step
    return step
  }
}

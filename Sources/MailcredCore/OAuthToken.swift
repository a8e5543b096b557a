/// An HTTP answer from an OAuth2 endpoint. The body may hold tokens: it is a wipeable buffer.
public struct HTTPAnswer: Sendable {
  public var status: Int
  public var body: SecretBytes
  /// Header names in lower case (repeated headers joined with ","). None of them may be secret.
  public var headers: [String: String]

  public init(status: Int, body: SecretBytes, headers: [String: String] = [:]) {
    self.status = status
    self.body = body
    self.headers = headers
  }
}

/// Why an endpoint could not be asked: the same classes as a mail server check (DNS, refused, TLS, ...).
public struct TransportFailure: Error, Sendable, Equatable {
  public var verdict: CheckClass
  public var detail: String

  public init(verdict: CheckClass, detail: String) {
    self.verdict = verdict
    self.detail = detail
  }
}

/// POSTs a form to an OAuth2 endpoint over HTTPS (MailcredNet's OpenSSL transport; a fake in tests).
public protocol OAuthTransport: Sendable {
  /// `caFile`: an extra trusted CA for this endpoint (a self-hosted identity provider's).
  func post(_ url: HTTPSURL, form: SecretBytes, caFile: String?) throws(TransportFailure) -> HTTPAnswer
}

/// What a token endpoint granted (RFC 6749 5.1).
public struct TokenGrant: Sendable {
  public var accessToken: SecretBytes
  /// A new refresh token: the first one, or a rotated one (the old one may stop working at once).
  public var refreshToken: SecretBytes?
  /// Seconds the access token lives; nil when the server did not say.
  public var expiresIn: Int?
  public var scope: String?

  public func wipe() {
    accessToken.wipe()
    refreshToken?.wipe()
  }
}

/// Every way getting a token can fail, with the check class and exit status it means.
public enum OAuthFailure: Error, Sendable {
  /// The authorization server answered with an OAuth2 error (RFC 6749 5.2, RFC 8628 3.5): `invalid_grant`
  /// (the refresh token was revoked or expired), `invalid_client`, `access_denied`, `expired_token`, ...
  case refused(error: String, description: String?)
  /// The endpoint could not be reached or its TLS failed.
  case transport(TransportFailure)
  /// `temporarily_unavailable`, or a 5xx without an OAuth2 error.
  case temporary(String)
  /// An answer that is not what RFC 6749 describes.
  case malformed(String)
  /// What is stored of the grant cannot be used (damaged data, no token endpoint): only authorizing
  /// `account` again helps. `reason` is the fact.
  case reauthorize(String, account: String)
  /// The device flow without a device authorization endpoint (none given, and no preset has one).
  case noDeviceEndpoint
  /// Reading or writing the keyring failed.
  case store(MailcredError)
  /// The user did not finish the authorization in time, or the redirect was wrong.
  case authorization(String)

  public var verdict: CheckClass {
    switch self {
    case .refused(let error, _):
      return error == "temporarily_unavailable" || error == "server_error" ? .temporary : .rejected
    case .transport(let failure): return failure.verdict
    case .temporary: return .temporary
    case .malformed, .reauthorize, .noDeviceEndpoint: return .protocolError
    case .store(let error): return error.exitStatus == .temporaryFailure ? .temporary : .protocolError
    case .authorization: return .rejected
    }
  }

  public var exitStatus: ExitStatus {
    if case .store(let error) = self { return error.exitStatus }
    return verdict.exitStatus
  }

  /// What happened, without advice: a failed check's detail, the cause inside a longer message.
  public var detail: String {
    switch self {
    case .refused(let error, let description):
      return "\(oneLine(error))" + (description.map { ": \(oneLine($0))" } ?? "")
    case .transport(let failure): return failure.detail
    case .temporary(let text), .malformed(let text), .authorization(let text), .reauthorize(let text, _): return text
    case .noDeviceEndpoint: return "no device authorization endpoint"
    // Its own message is advice (unlock, try again): a failed check reports the store error itself.
    case .store: return "the grant could not be read from or written to the store"
    }
  }

  /// The failure as `mailcred: TEXT` reports it, with what to do where mailcred knows.
  public var message: Advice {
    switch self {
    case .store(let error): return error.message
    case .reauthorize(let reason, let account): return "\(reason): run `\(command: .authorize(account))` again"
    case .noDeviceEndpoint:
      return "\(detail): give \(option: .deviceEndpoint("URL")) (or a \(option: .provider(nil)) that has one)"
    default: return Advice(detail)
    }
  }

  /// The OAuth2 error code, when the server sent one.
  public var errorCode: String? {
    if case .refused(let error, _) = self { return error }
    return nil
  }
}

/// Reads a token endpoint's answer: a grant (200 with `access_token`), or the OAuth2 error it carries.
public func parseTokenAnswer(_ answer: HTTPAnswer) throws(OAuthFailure) -> TokenGrant {
  var json: OAuthJSON
  do {
    json = try answer.body.withTemporaryArray { bytes throws(OAuthJSON.SyntaxError) in try OAuthJSON(parsing: bytes) }
  } catch {
    if answer.status >= 500 { throw .temporary("HTTP \(answer.status) from the token endpoint") }
    throw .malformed("the token endpoint answered HTTP \(answer.status) without JSON (\(error))")
  }
  defer { json.wipe() }
  if let code = json.text("error") {
    throw .refused(error: code, description: json.text("error_description").map { String($0.prefix(300)) })
  }
  guard answer.status == 200 else {
    if answer.status >= 500 { throw .temporary("HTTP \(answer.status) from the token endpoint") }
    throw .malformed("the token endpoint answered HTTP \(answer.status) without an OAuth2 error")
  }
  guard let access = json.secret("access_token") else {
    throw .malformed("the token endpoint's answer has no access_token")
  }
  if let type = json.text("token_type"), type.lowercased() != "bearer" {
    access.wipe()
    throw .malformed("the token endpoint issued a '\(oneLine(type))' token; mail servers take Bearer tokens")
  }
  let refresh = json.secret("refresh_token")
  for token in [access, refresh].compactMap({ $0 }) where !OAuthPayload.isStorable(token) {
    access.wipe()
    refresh?.wipe()
    throw .malformed("the token endpoint issued a token with characters RFC 6749 does not allow")
  }
  return TokenGrant(accessToken: access, refreshToken: refresh, expiresIn: json.integer("expires_in"), scope: json.text("scope"))
}

/// The three OAuth2 grants mailcred uses, over an injected transport: authorization code with PKCE
/// (RFC 6749 4.1, RFC 7636, RFC 8252 loopback redirect), device authorization (RFC 8628), and refresh
/// (RFC 6749 6). Network, randomness and time come from the caller; everything here is pure logic.
public struct OAuthClient: Sendable {
  public let transport: any OAuthTransport
  public let settings: OAuthSettings
  /// An optional client secret (Google's desktop clients have one; public clients do not).
  public let clientSecret: SecretBytes?

  public init(transport: any OAuthTransport, settings: OAuthSettings, clientSecret: SecretBytes? = nil) {
    self.transport = transport
    self.settings = settings
    self.clientSecret = clientSecret
  }

  // MARK: Authorization code

  /// The URL the user opens (RFC 6749 4.1.1 + RFC 7636 4.3). `loginHint` pre-fills the account at Microsoft
  /// and Google; `extra` carries provider parameters such as Google's `access_type=offline`.
  public func authorizationURL(
    redirectURI: String, state: String, codeChallenge: String, loginHint: String?, extra: [String: String] = [:]
  ) throws(InputError) -> String {
    guard let endpoint = settings.authorizationEndpoint else {
      throw .usage("no authorization endpoint: give \(option: .authorizationEndpoint("URL")) (or a \(option: .provider(nil)) that has one)")
    }
    var parameters: [(String, String)] = [
      ("response_type", "code"), ("client_id", settings.clientID), ("redirect_uri", redirectURI),
      ("scope", settings.scope), ("state", state), ("code_challenge", codeChallenge),
      ("code_challenge_method", "S256"),
    ]
    if let loginHint { parameters.append(("login_hint", loginHint)) }
    for key in extra.keys.sorted() { parameters.append((key, extra[key]!)) }
    return try HTTPSURL(parsing: endpoint).adding(query: parameters)
  }

  /// The code from the redirect's query, after checking `state` (RFC 6749 10.12: a redirect that does not
  /// carry our state is someone else's, and its code must not be used).
  public static func authorizationCode(fromRedirect query: [(key: String, value: [UInt8])], state: String) throws(OAuthFailure) -> SecretBytes {
    let returned = query.last { $0.key == "state" }?.value ?? []
    guard SecretBytes(copying: returned) == SecretBytes(taking: Array(state.utf8)) else {
      throw .authorization("the redirect did not carry this authorization's state: ignored")
    }
    if let error = query.last(where: { $0.key == "error" }) {
      let description = query.last { $0.key == "error_description" }.map { String(decoding: $0.value, as: UTF8.self) }
      throw .refused(error: String(decoding: error.value, as: UTF8.self), description: description)
    }
    guard let code = query.last(where: { $0.key == "code" }), !code.value.isEmpty else {
      throw .malformed("the redirect carried neither a code nor an error")
    }
    return SecretBytes(copying: code.value)
  }

  /// Trades the code for tokens (RFC 6749 4.1.3, with the PKCE verifier of RFC 7636 4.5).
  public func exchange(code: SecretBytes, redirectURI: String, codeVerifier: SecretBytes) throws(OAuthFailure) -> TokenGrant {
    var fields: [(String, FormValue)] = [
      ("grant_type", .text("authorization_code")), ("code", .secret(code)), ("redirect_uri", .text(redirectURI)),
      ("client_id", .text(settings.clientID)), ("code_verifier", .secret(codeVerifier)),
    ]
    if let clientSecret { fields.append(("client_secret", .secret(clientSecret))) }
    return try tokenRequest(fields)
  }

  // MARK: Refresh

  /// A new access token (and maybe a rotated refresh token) for `refreshToken` (RFC 6749 6).
  public func refresh(_ refreshToken: SecretBytes) throws(OAuthFailure) -> TokenGrant {
    var fields: [(String, FormValue)] = [
      ("grant_type", .text("refresh_token")), ("refresh_token", .secret(refreshToken)),
      ("client_id", .text(settings.clientID)),
    ]
    if let clientSecret { fields.append(("client_secret", .secret(clientSecret))) }
    return try tokenRequest(fields)
  }

  // MARK: Device authorization

  /// Asks for a device code and the user code to show (RFC 8628 3.1, 3.2).
  public func startDeviceAuthorization() throws(OAuthFailure) -> DeviceAuthorization {
    guard let endpoint = settings.deviceEndpoint else {
      throw .noDeviceEndpoint
    }
    let url: HTTPSURL
    do { url = try HTTPSURL(parsing: endpoint) } catch { throw .malformed(error.invalidValueText ?? "invalid URL") }
    var fields: [(String, FormValue)] = [("client_id", .text(settings.clientID)), ("scope", .text(settings.scope))]
    if let clientSecret { fields.append(("client_secret", .secret(clientSecret))) }
    return try post(fields, to: url, DeviceAuthorization.parse)
  }

  /// One poll of the token endpoint for a device code (RFC 8628 3.4).
  public func pollDevice(_ device: DeviceAuthorization) throws(OAuthFailure) -> TokenGrant {
    var fields: [(String, FormValue)] = [
      ("grant_type", .text("urn:ietf:params:oauth:grant-type:device_code")), ("device_code", .secret(device.deviceCode)),
      ("client_id", .text(settings.clientID)),
    ]
    if let clientSecret { fields.append(("client_secret", .secret(clientSecret))) }
    return try tokenRequest(fields)
  }

  /// Polls until the user approved, refused, or the code expired, sleeping between polls as RFC 8628 3.5
  /// asks (`slow_down` adds 5 seconds for good). `sleep` and `clock` (monotonic seconds) are injected.
  public func waitForDeviceApproval(
    _ device: DeviceAuthorization, sleep: (Double) -> Void, clock: () -> Double, onPoll: (String) -> Void = { _ in }
  ) throws(OAuthFailure) -> TokenGrant {
    var polling = DevicePolling(interval: device.interval, expiresAt: clock() + Double(device.expiresIn))
    while true {
      sleep(polling.interval)
      let answer = Result { () throws(OAuthFailure) in try pollDevice(device) }
      onPoll(answer.pollDescription)
      switch polling.next(after: answer, now: clock()) {
      case .granted(let grant): return grant
      case .failed(let failure): throw failure
      case .pollAgain: continue
      }
    }
  }

  // MARK: Plumbing

  private func tokenRequest(_ fields: [(String, FormValue)]) throws(OAuthFailure) -> TokenGrant {
    let url: HTTPSURL
    do { url = try HTTPSURL(parsing: settings.tokenEndpoint) } catch { throw .malformed(error.invalidValueText ?? "invalid URL") }
    return try post(fields, to: url, parseTokenAnswer)
  }

  /// POSTs `fields` as a form and reads the answer with `parse`; the form and the answer's body (both may
  /// hold secrets) are wiped.
  private func post<T>(_ fields: [(String, FormValue)], to url: HTTPSURL, _ parse: (HTTPAnswer) throws(OAuthFailure) -> T) throws(OAuthFailure) -> T {
    let form = formBody(fields)
    defer { form.wipe() }
    let answer: HTTPAnswer
    do { answer = try transport.post(url, form: form, caFile: settings.caFile) } catch { throw .transport(error) }
    defer { answer.body.wipe() }
    return try parse(answer)
  }
}

extension Result where Success == TokenGrant, Failure == OAuthFailure {
  /// For progress lines: `authorization_pending`, `granted`, ...
  var pollDescription: String {
    switch self {
    case .success: return "granted"
    case .failure(let failure): return failure.errorCode ?? failure.verdict.rawValue
    }
  }
}

/// A device authorization in progress (RFC 8628 3.2).
public struct DeviceAuthorization: Sendable {
  public var deviceCode: SecretBytes
  public var userCode: String
  public var verificationURI: String
  public var verificationURIComplete: String?
  public var expiresIn: Int
  /// Seconds between polls (5 when the server names none, RFC 8628 3.2).
  public var interval: Double
  /// Microsoft's ready-made instruction sentence.
  public var message: String?

  static func parse(_ answer: HTTPAnswer) throws(OAuthFailure) -> DeviceAuthorization {
    var json: OAuthJSON
    do { json = try answer.body.withTemporaryArray { bytes throws(OAuthJSON.SyntaxError) in try OAuthJSON(parsing: bytes) } } catch {
      throw answer.status >= 500 ? .temporary("HTTP \(answer.status) from the device endpoint")
        : .malformed("the device endpoint answered HTTP \(answer.status) without JSON")
    }
    defer { json.wipe() }
    if let error = json.text("error") {
      throw .refused(error: error, description: json.text("error_description").map { String($0.prefix(300)) })
    }
    // Google says verification_url (its pre-RFC name).
    guard answer.status == 200, let code = json.secret("device_code"), let user = json.text("user_code"),
      let uri = json.text("verification_uri") ?? json.text("verification_url")
    else { throw .malformed("the device endpoint's answer lacks device_code, user_code or verification_uri") }
    return DeviceAuthorization(
      deviceCode: code, userCode: oneLine(user), verificationURI: oneLine(uri),
      verificationURIComplete: json.text("verification_uri_complete").map(oneLine),
      expiresIn: max(1, json.integer("expires_in") ?? 900), interval: Double(max(1, json.integer("interval") ?? 5)),
      message: json.text("message").map(oneLine))
  }
}

/// The polling rules of RFC 8628 3.5 as a value: what to do after each answer.
public struct DevicePolling: Sendable, Equatable {
  public private(set) var interval: Double
  public let expiresAt: Double

  public init(interval: Double, expiresAt: Double) {
    self.interval = interval
    self.expiresAt = expiresAt
  }

  public enum Step {
    case granted(TokenGrant)
    case pollAgain
    case failed(OAuthFailure)
  }

  public mutating func next(after answer: Result<TokenGrant, OAuthFailure>, now: Double) -> Step {
    switch answer {
    case .success(let grant): return .granted(grant)
    case .failure(.refused(error: "authorization_pending", _)): break
    case .failure(.refused(error: "slow_down", _)): interval += 5
    // A network hiccup while the user types the code is not the end of the authorization.
    case .failure(.transport), .failure(.temporary): break
    case .failure(.refused(error: "access_denied", _)):
      return .failed(.authorization("the authorization was declined (access_denied)"))
    case .failure(.refused(error: "expired_token", _)):
      return .failed(.authorization("the device code expired before the authorization was completed (expired_token)"))
    case .failure(let failure): return .failed(failure)
    }
    if now + interval >= expiresAt {
      return .failed(.authorization("the device code expired before the authorization was completed"))
    }
    return .pollAgain
  }
}

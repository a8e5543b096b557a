/// Where and as whom an `oauth2` credential gets its tokens. Stored as keyring attributes (never a token):
/// `client-id`, `token-endpoint`, `scopes` (space-separated), and what `mailcred authorize` needs to ask
/// again without options: `authorization-endpoint`, `device-endpoint`, `ca-file` (a CA trusted for the
/// identity provider's endpoints at every refresh, since `get` takes no options).
public struct OAuthSettings: Sendable, Equatable {
  public var clientID: String
  public var tokenEndpoint: String
  public var scopes: [String]
  public var authorizationEndpoint: String?
  public var deviceEndpoint: String?
  public var caFile: String?

  public init(
    clientID: String, tokenEndpoint: String, scopes: [String], authorizationEndpoint: String? = nil,
    deviceEndpoint: String? = nil, caFile: String? = nil
  ) {
    self.clientID = clientID
    self.tokenEndpoint = tokenEndpoint
    self.scopes = scopes
    self.authorizationEndpoint = authorizationEndpoint
    self.deviceEndpoint = deviceEndpoint
    self.caFile = caFile
  }

  public var scope: String { scopes.joined(separator: " ") }

  public var attributes: [String: String] {
    var a = ["client-id": clientID, "token-endpoint": tokenEndpoint, "scopes": scope]
    if let authorizationEndpoint { a["authorization-endpoint"] = authorizationEndpoint }
    if let deviceEndpoint { a["device-endpoint"] = deviceEndpoint }
    if let caFile { a["ca-file"] = caFile }
    return a
  }

  public init?(attributes a: [String: String]) {
    guard let clientID = a["client-id"], let tokenEndpoint = a["token-endpoint"] else { return nil }
    self.init(
      clientID: clientID, tokenEndpoint: tokenEndpoint,
      scopes: (a["scopes"] ?? "").split(separator: " ").map(String.init),
      authorizationEndpoint: a["authorization-endpoint"], deviceEndpoint: a["device-endpoint"], caFile: a["ca-file"])
  }

  /// Client ids are printable ASCII without spaces (they go into URLs, forms and keyring attributes).
  public static func validateClientID(_ id: String) throws(InputError) {
    guard !id.isEmpty, id.utf8.count <= 512, id.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
      throw .invalid("client id", id, "printable ASCII without spaces")
    }
  }

  public static func validateScope(_ scope: String) throws(InputError) {
    // RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    guard !scope.isEmpty,
      scope.unicodeScalars.allSatisfy({ $0.value == 0x21 || (0x23...0x5b).contains($0.value) || (0x5d...0x7e).contains($0.value) })
    else { throw .invalid("scope", scope, "a scope is printable ASCII without spaces, '\"' or '\\'") }
  }
}

/// A provider's OAuth2 endpoints and the scopes that mail needs (from the providers' documentation).
public struct OAuthPreset: Sendable, Equatable {
  public var authorizationEndpoint: String
  public var tokenEndpoint: String
  public var deviceEndpoint: String?
  public var scopes: [String]
  /// Extra authorization-request parameters (Google issues a refresh token only with these).
  public var authorizationParameters: [String: String]
  /// Shown before a device-code flow, when the provider is known to refuse mail scopes there.
  public var deviceFlowWarning: Advice?
  /// How a user gets a client id (and secret) for this provider.
  public var registration: Advice

  /// The preset of a provider id from `Provider.all`, nil when the provider has no OAuth2 for mail.
  /// `tenant` replaces Microsoft's `common` (a tenant id or domain, `organizations`, `consumers`).
  public static func forProvider(_ id: String, tenant: String? = nil) -> OAuthPreset? {
    switch id.lowercased() {
    case "outlook.com", "office365":
      let base = "https://login.microsoftonline.com/\(tenant ?? "common")/oauth2/v2.0"
      return OAuthPreset(
        authorizationEndpoint: base + "/authorize", tokenEndpoint: base + "/token", deviceEndpoint: base + "/devicecode",
        scopes: [
          "https://outlook.office.com/SMTP.Send", "https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access",
        ],
        authorizationParameters: [:], deviceFlowWarning: nil,
        registration: "Microsoft Entra admin center → App registrations → New registration (\"Accounts in any "
          + "organizational directory and personal Microsoft accounts\"); Authentication → add platform \"Mobile "
          + "and desktop applications\" with redirect URI http://localhost, and allow public client flows (for "
          + "\(option: .device)); API permissions → Office 365 Exchange Online (or Microsoft Graph): SMTP.Send, "
          + "IMAP.AccessAsUser.All, offline_access. The Application (client) ID is \(option: .clientID(nil)); no secret.")
    case "gmail":
      return OAuthPreset(
        authorizationEndpoint: "https://accounts.google.com/o/oauth2/v2/auth",
        tokenEndpoint: "https://oauth2.googleapis.com/token",
        deviceEndpoint: "https://oauth2.googleapis.com/device/code",
        scopes: ["https://mail.google.com/"],
        authorizationParameters: ["access_type": "offline", "prompt": "consent"],
        deviceFlowWarning: "Google's device flow accepts only a short list of scopes, which has not included "
          + "Gmail's https://mail.google.com/: if Google answers invalid_scope, use the browser flow (without \(option: .device)), "
          + "e.g. over `ssh -L PORT:127.0.0.1:PORT`",
        registration: "Google Cloud console → APIs & Services: enable the Gmail API, configure the OAuth consent "
          + "screen (add yourself as a test user, scope https://mail.google.com/), then Credentials → Create "
          + "credentials → OAuth client ID → \"Desktop app\". Pass its client ID with \(option: .clientID(nil)) and its "
          + "client secret with \(option: .clientSecretStdin) (Google requires it for desktop clients).")
    default:
      return nil
    }
  }
}

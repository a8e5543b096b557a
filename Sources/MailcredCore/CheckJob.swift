/// One credential against one endpoint, for a live check.
public struct CheckJob: Sendable {
  public var endpoint: Endpoint
  public var user: String
  public var secret: SecretBytes
  /// `.bearer`: `secret` is an OAuth2 access token (XOAUTH2 / OAUTHBEARER).
  public var auth: AuthMethod

  public init(endpoint: Endpoint, user: String, secret: SecretBytes, auth: AuthMethod = .password) {
    self.endpoint = endpoint
    self.user = user
    self.secret = secret
    self.auth = auth
  }
}

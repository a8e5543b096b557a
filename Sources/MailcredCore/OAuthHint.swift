/// Hints for OAuth2: what an `oauth2` credential's failed check means, and the exact `authorize` command
/// for a password credential whose provider wants OAuth2.
public enum OAuthCheck {
  /// Starts the detail of a check that failed at the identity provider, before any mail server was asked.
  public static let tokenEndpointPrefix = "token endpoint: "

  /// `authorize ACCOUNT` with the provider's preset and a client id to fill in, for a credential being
  /// migrated to OAuth2.
  public static func authorizeCommand(account: String, provider: Provider?) -> AdviceCommand {
    guard let provider, OAuthPreset.forProvider(provider.id) != nil else { return .authorize(account) }
    return .authorize(account, .provider(provider.id), .clientID("YOUR-CLIENT-ID"))
  }

  /// The hint for a failed check of an `oauth2` credential; nil where the generic hint fits.
  static func hint(for result: CheckResult, provider: Provider?, account: String) -> Advice? {
    let atProvider = result.detail.hasPrefix(tokenEndpointPrefix)
    // A known token-endpoint error (AADSTS700082, Google's invalid_grant, ...) has its own fix.
    if let (problem, code) = TokenEndpointProblem.classify(detail: result.detail) {
      return problem.hint(account: account, code: code)
    }
    switch result.verdict {
    case .rejected where atProvider:
      return "the identity provider refused the refresh token (revoked, expired, or the password changed): "
        + "authorize again with `\(command: .authorize(account))`"
    case .rejected, .basicAuthDisabled:
      return "the mail server refused the access token: authorize again with `\(command: .authorize(account))`; if "
        + "that does not help, check the scopes and that SMTP/IMAP AUTH is enabled for the mailbox"
    case .noAuthOffered:
      return "the server offers neither XOAUTH2 nor OAUTHBEARER here: check host and port, or use a password credential"
    case .tlsFailed where atProvider:
      return "TLS to the token endpoint failed: for a self-hosted identity provider, `\(command: .authorize(account, .caFile("CA.pem")))`"
    case .timeout where atProvider, .refused where atProvider, .dns where atProvider, .unreachable where atProvider,
      .temporary where atProvider:
      return "the identity provider's token endpoint could not be reached: check the network, then try again"
    case .protocolError where atProvider:
      return "the token endpoint's answer was not OAuth2: check \(option: .tokenEndpoint(nil)) (`\(command: .authorize(account))`)"
    default:
      return nil
    }
  }
}

/// What a token endpoint's OAuth2 error means for the user, beyond RFC 6749's generic codes.
///
/// Microsoft's identity platform answers almost every failed refresh with `invalid_grant` and puts the real
/// reason in an `AADSTSnnnnn` code at the start of `error_description` (and in `error_codes`); each needs a
/// different fix. Google says less: `invalid_grant` (revoked, expired, or a Testing-mode app's 7 days are
/// over) and `unauthorized_client` (the grant belongs to another client id or secret). The codes below are
/// the ones a mail user meets after the first authorization; anything else keeps the generic hint.
public enum TokenEndpointProblem: String, Sendable, CaseIterable {
  /// AADSTS700082: the refresh token went 90 days without use.
  case expiredByInactivity = "expired-by-inactivity"
  /// AADSTS50173 (password changed or reset, tokens revoked), AADSTS70043 (conditional access sign-in
  /// frequency: the grant outlived the policy's lifetime).
  case revoked
  /// AADSTS65001: the user or an administrator has not consented to the app's permissions.
  case consentRequired = "consent-required"
  /// AADSTS50076 (MFA required), AADSTS50079 (MFA enrollment required): a new interactive sign-in.
  case mfaRequired = "mfa-required"
  /// AADSTS7000218: the app registration is confidential, so it wants a client secret.
  case notPublicClient = "not-public-client"
  /// AADSTS700016: no app with this client id in the tenant asked.
  case unknownClient = "unknown-client"
  /// `invalid_grant` without a more precise code (Google's "Token has been expired or revoked.").
  case invalidGrant = "invalid-grant"
  /// `unauthorized_client`: the grant was issued to another client (id or secret changed).
  case unauthorizedClient = "unauthorized-client"
  /// `temporarily_unavailable`, `server_error`: the identity provider's own trouble; try later.
  case providerTrouble = "provider-trouble"

  /// The AADSTS codes each Microsoft problem stands for.
  static let microsoftCodes: [String: TokenEndpointProblem] = [
    "700082": .expiredByInactivity, "50173": .revoked, "70043": .revoked, "65001": .consentRequired,
    "50076": .mfaRequired, "50079": .mfaRequired, "7000218": .notPublicClient, "700016": .unknownClient,
  ]

  /// Classifies an OAuth2 error code and description; nil when nothing more specific than the code is known.
  public static func classify(error: String, description: String?) -> (problem: TokenEndpointProblem, aadsts: String?)? {
    if let code = aadstsCode(in: description ?? ""), let problem = microsoftCodes[code] { return (problem, "AADSTS" + code) }
    switch error {
    case "invalid_grant": return (.invalidGrant, aadstsCode(in: description ?? "").map { "AADSTS" + $0 })
    case "unauthorized_client": return (.unauthorizedClient, nil)
    case "temporarily_unavailable", "server_error": return (.providerTrouble, nil)
    default: return nil
    }
  }

  /// Classifies a failure; nil for failures that are not an OAuth2 error answer.
  public static func classify(_ failure: OAuthFailure) -> (problem: TokenEndpointProblem, aadsts: String?)? {
    guard case .refused(let error, let description) = failure else { return nil }
    return classify(error: error, description: description)
  }

  /// Classifies a check result's detail (`token endpoint: invalid_grant: AADSTS700082: ...`, as
  /// `prepareChecks` writes it from `OAuthFailure.description`).
  public static func classify(detail: String) -> (problem: TokenEndpointProblem, aadsts: String?)? {
    guard detail.hasPrefix(OAuthCheck.tokenEndpointPrefix) else { return nil }
    let rest = detail.dropFirst(OAuthCheck.tokenEndpointPrefix.count)
    let colon = rest.firstIndex(of: ":") ?? rest.endIndex
    let description = colon < rest.endIndex ? String(rest[rest.index(after: colon)...]) : nil
    return classify(error: String(rest[..<colon]), description: description)
  }

  /// The digits of the first `AADSTS<digits>` in `text`.
  static func aadstsCode(in text: String) -> String? {
    let bytes = Array(text.utf8)
    let marker = Array("AADSTS".utf8)
    guard bytes.count > marker.count else { return nil }
    for start in 0...(bytes.count - marker.count) where bytes[start..<start + marker.count].elementsEqual(marker) {
      let digits = bytes[(start + marker.count)...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
      if !digits.isEmpty { return String(decoding: digits, as: UTF8.self) }
    }
    return nil
  }

  /// 75 for the provider's own trouble, 77 for everything the user (or an administrator) must act on.
  public var exitStatus: ExitStatus { self == .providerTrouble ? .temporaryFailure : .authenticationRejected }

  /// What to do, naming the command.
  public func hint(account: String, code: String?) -> Advice {
    let tag = code.map { " (\($0))" } ?? ""
    let authorize: Advice = "`\(command: .authorize(account))`"
    switch self {
    case .expiredByInactivity:
      return "the refresh token expired after 90 days without use\(tag): authorize again with \(authorize); "
        + "afterwards a regular `\(command: .check(account))` (or `audit` from a timer) keeps it alive"
    case .revoked:
      return "the grant was revoked or outlived a policy\(tag) — a password change or reset, or a conditional-access "
        + "sign-in frequency: sign in again with \(authorize)"
    case .consentRequired:
      return "nobody has consented to the app's permissions\(tag): run \(authorize) and accept the consent screen, "
        + "or ask a tenant administrator to grant admin consent for the app"
    case .mfaRequired:
      return "the tenant now requires multi-factor authentication (or enrollment in it)\(tag): sign in "
        + "interactively with \(authorize) and complete the MFA prompt"
    case .notPublicClient:
      return "the app registration is not a public client\(tag): in Microsoft Entra → App registrations → "
        + "Authentication, enable \"Allow public client flows\", or authorize again with a client secret "
        + "(`\(command: .authorize(account, .clientSecretStdin))`)"
    case .unknownClient:
      return "the client id is not registered in this tenant\(tag): check \(option: .clientID(nil)) and the tenant (a single-tenant "
        + "app needs its own tenant, not `common`), then \(authorize)"
    case .invalidGrant:
      return "the identity provider refused the refresh token\(tag): it was revoked or expired (a Google app in "
        + "Testing mode loses its grants after 7 days: publish it, or authorize again weekly) — \(authorize)"
    case .unauthorizedClient:
      return "the grant does not belong to this client\(tag) (the client id or secret changed, or the client may not "
        + "use this grant type): authorize again with the right client, \(authorize)"
    case .providerTrouble:
      return "the identity provider reported a temporary failure\(tag): try again later"
    }
  }
}

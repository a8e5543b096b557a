#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How long an `oauth2` grant has gone without a refresh, and whether that puts it at risk.
///
/// Microsoft ends a refresh token that has not been used for 90 days (`AADSTS700082: The refresh token has
/// expired due to inactivity`); every use starts the 90 days again. mailcred records each refresh in the
/// `refreshed` attribute (a grant never refreshed counts from its `created`, which `authorize` sets), so
/// `list`, `show` and `audit` can warn ten days ahead, offline. Google's grants have no such clock (only
/// Testing-mode apps lose theirs, after 7 days, however often they are used), so only Microsoft is watched.
public enum OAuthGrantAge {
  /// Microsoft's inactivity limit for refresh tokens.
  public static let microsoftLifetimeDays = 90
  /// Warn this long without a refresh: ten days before the token dies.
  public static let microsoftWarningDays = 80

  /// Whether the grant is Microsoft's: an outlook.com/office365 preset, or Microsoft's token endpoint.
  public static func isMicrosoft(_ credential: Credential) -> Bool {
    guard credential.kind == .oauth2 else { return false }
    if let provider = credential.provider?.lowercased(), provider == "outlook.com" || provider == "office365" { return true }
    guard let endpoint = credential.oauth?.tokenEndpoint, let url = try? HTTPSURL(parsing: endpoint) else { return false }
    let host = url.host.lowercased()
    return host == "login.microsoftonline.com" || host == "login.live.com" || host.hasSuffix(".login.microsoftonline.com")
  }

  /// When the grant's refresh token was last used, as far as mailcred knows; nil for other kinds.
  public static func lastRefresh(_ credential: Credential) -> Date? {
    guard credential.kind == .oauth2 else { return nil }
    return credential.refreshed ?? credential.created
  }

  /// Whole days since the last refresh of a Microsoft grant that is past the warning age; nil otherwise.
  public static func idleDays(_ credential: Credential, now: Date) -> Int? {
    guard isMicrosoft(credential), credential.state == .current, let last = lastRefresh(credential) else { return nil }
    let days = Int((now.timeIntervalSince(last) / 86400).rounded(.down))
    return days > microsoftWarningDays ? days : nil
  }

  /// The warning for a grant at risk, naming what keeps it alive.
  public static func warning(_ credential: Credential, now: Date) -> Advice? {
    guard let days = idleDays(credential, now: now) else { return nil }
    let account = credential.account
    let left = microsoftLifetimeDays - days
    let fate: Advice = left > 0
      ? "Microsoft ends it after \(microsoftLifetimeDays) days without use, in \(left) day\(left == 1 ? "" : "s")"
      : "Microsoft ends it after \(microsoftLifetimeDays) days without use, so it has probably expired (then `\(command: .authorize(account))`)"
    return "the OAuth2 grant of \(account) has not been refreshed for \(days) days; \(fate) — "
      + "`\(command: .check(account))` refreshes it now (so does `\(command: .get(account))` once the access token is due)"
  }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The stable machine form of a credential's metadata (`list --json`, `show --json`, `audit --json`).
/// Field names are snake_case and only ever added to; the man page documents each.
public struct CredentialReport: Codable, Sendable, Equatable {
  public struct EndpointReport: Codable, Sendable, Equatable {
    public var host: String
    public var port: Int
    public var security: String
  }

  public var account: String
  public var kind: String
  public var user: String
  public var provider: String?
  public var state: String
  public var created: String
  public var expires: String?
  /// `ok`, `expiring` or `expired`.
  public var status: String
  /// Days until expiry (negative: days since), nil without an expiry.
  public var days_left: Int?
  public var smtp: EndpointReport?
  public var imap: EndpointReport?
  public var checked: String?
  public var check_result: String?
  /// An oauth2 grant's last refresh (RFC 3339), when one was recorded.
  public var refreshed: String?
  /// Provider policy facts about this kind of credential (issue 18); absent when none applies.
  public var provider_policy: [PolicyReport]?

  public struct PolicyReport: Codable, Sendable, Equatable {
    /// `warning` (audit counts it) or `note`.
    public var level: String
    /// `refused`, `refused-by-default` or `caveat`.
    public var effect: String
    public var text: String
    public var fix: String?
  }

  /// A `git` kind credential's key, as git gave it.
  public var git: GitReport?
  /// When git's erase made it `erased` (RFC 3339).
  public var erased: String?

  public struct GitReport: Codable, Sendable, Equatable {
    public var `protocol`: String
    public var host: String?
    public var path: String?
    public var username: String?
    public var authtype: String?
  }

  /// `speller` writes the fixing commands of provider policies (`fix`).
  public init(
    _ credential: Credential, now: Date, warningDays: Int = ExpiryStatus.defaultWarningDays, speller: some AdviceSpeller
  ) {
    let status = ExpiryStatus(expires: credential.expires, now: now, warningDays: warningDays)
    account = credential.account
    kind = credential.kind.rawValue
    user = credential.user
    provider = credential.provider
    state = credential.state.rawValue
    created = RFC3339.format(credential.created)
    expires = credential.expires.map(RFC3339.format)
    self.status = status.word
    switch status {
    case .noExpiry: days_left = nil
    case .valid(let days), .expiresSoon(let days): days_left = days
    case .expired(let days): days_left = -days
    }
    smtp = credential.smtp.map { EndpointReport(host: $0.host, port: $0.port, security: $0.security.rawValue) }
    imap = credential.imap.map { EndpointReport(host: $0.host, port: $0.port, security: $0.security.rawValue) }
    checked = credential.checked.map(RFC3339.format)
    check_result = credential.checkResult
    refreshed = credential.refreshed.map(RFC3339.format)
    let concerns = credential.policyConcerns(now: now)
    provider_policy = concerns.isEmpty
      ? nil : concerns.map { PolicyReport(level: $0.level.rawValue, effect: $0.effect, text: $0.text, fix: $0.fix.map(speller.spell)) }
    git = credential.git.map { GitReport(protocol: $0.proto, host: $0.host, path: $0.path, username: $0.username, authtype: $0.authtype) }
    erased = credential.state == .erased ? credential.erasedAt.map(RFC3339.format) : nil
  }
}

/// JSON text with sorted keys, pretty-printed, ending in a newline.
public func encodeJSON<T: Encodable>(_ value: T) -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  guard let data = try? encoder.encode(value) else { return "null\n" }
  return String(decoding: data, as: UTF8.self) + "\n"
}

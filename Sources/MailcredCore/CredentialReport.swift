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

  public init(_ credential: Credential, now: Date, warningDays: Int = ExpiryStatus.defaultWarningDays) {
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

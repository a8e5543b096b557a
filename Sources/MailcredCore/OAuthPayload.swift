#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The keyring secret of an `oauth2` credential: the refresh token, and cached, the current access token
/// with its expiry (and a client secret, for providers whose "installed app" clients have one).
///
/// Format (version 1), ASCII lines, each ending in LF, keys in any order, unknown keys ignored:
///
///     mailcred-oauth2 1
///     refresh_token=<token>
///     access_token=<token>            (absent until the first grant, or dropped when unusable)
///     access_expires=<unix seconds>   (when the access token expires, as the token endpoint said)
///     client_secret=<secret>          (only when the client has one)
///
/// Tokens are RFC 6749 VSCHARs (0x20-0x7E, appendix A.12-A.17), so they never contain LF: a value is the
/// rest of its line. A password secret can never contain LF either (one line of stdin, a prompt, or git's
/// line-based protocol), so the first line tells an oauth2 payload from a password with one comparison —
/// which is all that `get` of a password credential pays for oauth2 existing.
public struct OAuthPayload {
  public static let header: [UInt8] = Array("mailcred-oauth2 1\n".utf8)

  public var refreshToken: SecretBytes
  public var accessToken: SecretBytes?
  /// When the access token expires (whole seconds).
  public var accessExpires: Date?
  public var clientSecret: SecretBytes?

  public init(refreshToken: SecretBytes, accessToken: SecretBytes? = nil, accessExpires: Date? = nil, clientSecret: SecretBytes? = nil) {
    self.refreshToken = refreshToken
    self.accessToken = accessToken
    self.accessExpires = accessExpires
    self.clientSecret = clientSecret
  }

  /// Whether a keyring secret is an oauth2 payload (a byte comparison; no parsing).
  public static func isPayload(_ secret: SecretBytes) -> Bool {
    secret.count >= header.count && secret.withUnsafeBytes { $0.prefix(header.count).elementsEqual(header) }
  }

  public struct FormatError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { "the stored OAuth2 data is damaged (\(reason))" }
  }

  public init(parsing secret: SecretBytes) throws(FormatError) {
    guard Self.isPayload(secret) else { throw FormatError(reason: "not an oauth2 payload") }
    var refresh: SecretBytes?
    var access: SecretBytes?
    var expires: Date?
    var clientSecret: SecretBytes?
    // withUnsafeBytes rethrows untyped errors: the failure comes back as a value.
    let failure: FormatError? = secret.withUnsafeBytes { raw -> FormatError? in
      var start = Self.header.count
      while start < raw.count {
        let end = raw[start...].firstIndex(of: 0x0a) ?? raw.count
        let line = UnsafeRawBufferPointer(rebasing: raw[start..<end])
        start = end + 1
        guard !line.isEmpty else { continue }
        guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { return FormatError(reason: "a line without '='") }
        let key = String(decoding: line[..<equals], as: UTF8.self)
        let value = UnsafeRawBufferPointer(rebasing: line[(equals + 1)...])
        switch key {
        case "refresh_token": refresh = value.isEmpty ? nil : SecretBytes(taking: Array(value))
        case "access_token": access = value.isEmpty ? nil : SecretBytes(taking: Array(value))
        case "client_secret": clientSecret = value.isEmpty ? nil : SecretBytes(taking: Array(value))
        case "access_expires":
          guard let seconds = Int(String(decoding: value, as: UTF8.self)) else {
            return FormatError(reason: "access_expires is not a number")
          }
          expires = Date(timeIntervalSince1970: Double(seconds))
        default: break  // a newer mailcred's field
        }
      }
      return nil
    }
    if let failure { throw failure }
    guard let refresh else { throw FormatError(reason: "no refresh token") }
    self.init(refreshToken: refresh, accessToken: access, accessExpires: expires, clientSecret: clientSecret)
  }

  /// The payload as stored, in one exactly-sized buffer.
  public func encoded() -> SecretBytes {
    var fields: [(String, SecretBytes)] = [("refresh_token", refreshToken)]
    if let accessToken { fields.append(("access_token", accessToken)) }
    if let clientSecret { fields.append(("client_secret", clientSecret)) }
    let expiresLine = accessExpires.map { "access_expires=\(Int($0.timeIntervalSince1970))\n" } ?? ""
    let size = Self.header.count + fields.reduce(0) { $0 + $1.0.utf8.count + 2 + $1.1.count } + expiresLine.utf8.count
    var out: [UInt8] = []
    out.reserveCapacity(size)
    out.append(contentsOf: Self.header)
    for (key, value) in fields {
      out.append(contentsOf: key.utf8)
      out.append(UInt8(ascii: "="))
      value.withUnsafeBytes { out.append(contentsOf: $0) }
      out.append(0x0a)
    }
    out.append(contentsOf: expiresLine.utf8)
    return SecretBytes(taking: out)
  }

  /// How long before its expiry an access token is replaced (the 5 minutes): a mail client that
  /// takes the token now may use it for a whole SMTP session or keep an IMAP connection open for minutes.
  public static let refreshMargin: Double = 300

  /// The cached access token when it stays valid for at least `margin` seconds after `now`.
  public func accessToken(validAt now: Date, margin: Double = refreshMargin) -> SecretBytes? {
    guard let accessToken, let accessExpires, accessExpires.timeIntervalSince(now) >= margin else { return nil }
    return accessToken
  }

  /// Whether a token can be stored in this format: RFC 6749 VSCHARs only (never LF, never NUL).
  public static func isStorable(_ token: SecretBytes) -> Bool {
    !token.isEmpty && token.withUnsafeBytes { $0.allSatisfy { $0 >= 0x20 && $0 <= 0x7e } }
  }

  public func wipe() {
    refreshToken.wipe()
    accessToken?.wipe()
    clientSecret?.wipe()
  }
}

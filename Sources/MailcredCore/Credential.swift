#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

public enum CredentialKind: String, Sendable, Codable, CaseIterable {
  case password
  case appPassword = "app-password"
  /// A refresh token (and cached access token) for XOAUTH2 / OAUTHBEARER; see `OAuthPayload`.
  case oauth2
  /// A credential git stored through the helper that is not a mail account (https, ...): see `GitTarget`.
  /// Never live-checked; only its expiry is judged.
  case git
}

/// Where an item is in its life: `current` is what `get` returns; `pending` is a new secret under
/// verification during a rotation; `erased` was erased through the git protocol and can be restored.
public enum CredentialState: String, Sendable, Codable, CaseIterable {
  case current
  case pending
  case erased
}

/// Everything mailcred knows about a credential except its secret. Stored as keyring attributes.
public struct Credential: Sendable, Equatable {
  public var account: String
  public var kind: CredentialKind
  public var user: String
  public var smtp: Endpoint?
  public var imap: Endpoint?
  public var provider: String?
  public var created: Date
  public var expires: Date?
  public var state: CredentialState
  /// Last live check: when and its result class (`ok`, `rejected`, …).
  public var checked: Date?
  public var checkResult: String?
  /// Client id, token endpoint and scopes of an `oauth2` credential (attributes; never a token).
  public var oauth: OAuthSettings?
  /// When an `oauth2` grant's refresh token was last used (Microsoft ends one after 90 days without use).
  public var refreshed: Date?
  /// What a `git` credential is for (protocol, host, path, username as git gave them).
  public var git: GitTarget?
  /// When git's `erase` made this item `erased` (shown by list/show; `mailcred restore` undoes it).
  public var erasedAt: Date?

  public init(
    account: String, kind: CredentialKind, user: String, smtp: Endpoint? = nil, imap: Endpoint? = nil,
    provider: String? = nil, created: Date, expires: Date? = nil, state: CredentialState = .current,
    checked: Date? = nil, checkResult: String? = nil, oauth: OAuthSettings? = nil, refreshed: Date? = nil
  ) {
    self.account = account
    self.kind = kind
    self.user = user
    self.smtp = smtp
    self.imap = imap
    self.provider = provider
    self.created = created
    self.expires = expires
    self.state = state
    self.checked = checked
    self.checkResult = checkResult
    self.oauth = oauth
    self.refreshed = refreshed
  }

  /// Every endpoint the credential has, SMTP first.
  public var endpoints: [Endpoint] { [smtp, imap].compactMap { $0 } }

  public var label: String { "mailcred: \(account) (\(kind.rawValue) for \(user))" }

  /// The keyring attributes (DESIGN.md "Keyring schema"). `host`/`service`/`user` are msmtp's own lookup
  /// attributes, so msmtp finds the item with no passwordeval. msmtp knows nothing of `state`: only a
  /// current item carries `service`, so msmtp never sends an erased or a pending (unverified) secret.
  public var attributes: [String: String] {
    var a: [String: String] = [
      "account": account, "kind": kind.rawValue, "user": user, "created": RFC3339.format(created),
      "state": state.rawValue,
    ]
    if let smtp {
      a["host"] = smtp.host
      // An oauth2 item's secret is not a password: msmtp's own lookup must not find and send it.
      if state == .current && kind != .oauth2 { a["service"] = "smtp" }
      a["smtp-port"] = String(smtp.port)
      a["smtp-security"] = smtp.security.rawValue
    }
    if let imap {
      a["imap-host"] = imap.host
      a["imap-port"] = String(imap.port)
      a["imap-security"] = imap.security.rawValue
    }
    if let provider { a["provider"] = provider }
    if let expires { a["expires"] = RFC3339.format(expires) }
    if let checked { a["checked"] = RFC3339.format(checked) }
    if let checkResult { a["check-result"] = checkResult }
    if let oauth { a.merge(oauth.attributes) { mine, _ in mine } }
    if let refreshed { a["refreshed"] = RFC3339.format(refreshed) }
    if let git { a.merge(git.attributes) { mine, _ in mine } }
    if let erasedAt, state == .erased { a["erased"] = RFC3339.format(erasedAt) }
    return a
  }

  /// Reads a credential back from attributes; nil when they are not a well-formed mailcred item.
  public init?(attributes a: [String: String]) {
    guard let account = a["account"], let kind = a["kind"].flatMap(CredentialKind.init(rawValue:)),
      let user = a["user"], let created = a["created"].flatMap(RFC3339.parse)
    else { return nil }
    func endpoint(_ proto: MailProtocol, host: String?, port: String?, security: String?) -> Endpoint? {
      guard let host, let port = port.flatMap({ Int($0) }) else { return nil }
      let sec = security.flatMap(TransportSecurity.init(rawValue:)) ?? .default(for: proto, port: port)
      return Endpoint(proto: proto, host: host, port: port, security: sec)
    }
    self.init(
      account: account, kind: kind, user: user,
      smtp: endpoint(.smtp, host: a["host"], port: a["smtp-port"], security: a["smtp-security"]),
      imap: endpoint(.imap, host: a["imap-host"], port: a["imap-port"], security: a["imap-security"]),
      provider: a["provider"], created: created, expires: a["expires"].flatMap(RFC3339.parse),
      state: a["state"].flatMap(CredentialState.init(rawValue:)) ?? .current,
      checked: a["checked"].flatMap(RFC3339.parse), checkResult: a["check-result"],
      oauth: kind == .oauth2 ? OAuthSettings(attributes: a) : nil, refreshed: a["refreshed"].flatMap(RFC3339.parse))
    if kind == .git {
      guard let target = GitTarget(attributes: a, user: user) else { return nil }
      git = target
    }
    erasedAt = a["erased"].flatMap(RFC3339.parse)
  }
}

/// Account names are what users type in `passwordeval "mailcred get NAME"`: printable, no spaces at the
/// ends, no control characters, at most 128 bytes.
public func validateAccountName(_ name: String) throws(InputError) {
  if name.isEmpty { throw .invalid("account name", name, "empty") }
  if name.utf8.count > 128 { throw .invalid("account name", name, "longer than 128 bytes") }
  if name.hasPrefix("-") { throw .invalid("account name", name, "may not start with '-'") }
  for scalar in name.unicodeScalars {
    if scalar.value < 0x20 || scalar.value == 0x7f || scalar == " " || scalar == "/" || scalar == "\\" {
      throw .invalid("account name", name, "use letters, digits and punctuation other than '/' and '\\', no spaces")
    }
  }
}

/// User names go into SMTP/IMAP AUTH and git's protocol: no control characters.
public func validateUserName(_ user: String) throws(InputError) {
  if user.isEmpty { throw .invalid("user", user, "empty") }
  if user.utf8.count > 320 { throw .invalid("user", user, "longer than 320 bytes") }
  if user.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
    throw .invalid("user", user, "control characters are not allowed")
  }
}

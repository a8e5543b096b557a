#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// git's `get`/`store`/`erase` on mailcred's credentials. Only mail protocols are served (smtp, smtps,
/// submission, imap, imaps); anything else (https, ...) is a miss, so mailcred can sit beside other
/// helpers.
public struct GitCredentialHelper: Sendable {
  public let store: CredentialStore
  /// An `oauth2` credential's valid access token (refreshed when due); set by the CLI, which owns the
  /// network. Without it oauth2 credentials are a miss.
  public var bearerToken: (@Sendable (CredentialStore.Entry) throws(MailcredError) -> SecretBytes)?

  public init(store: CredentialStore) { self.store = store }

  /// What a request names: which protocol's endpoint, host, optional port, optional user.
  struct Target: Equatable {
    var proto: MailProtocol
    var security: TransportSecurity?
    var host: String
    var port: Int?
    var user: String?

    init?(_ message: GitCredentialMessage) {
      switch message.proto?.lowercased() {
      case "smtp", "submission": proto = .smtp
      case "smtps": proto = .smtp; security = .tls
      case "imap": proto = .imap
      case "imaps": proto = .imap; security = .tls
      default: return nil
      }
      guard let hostField = message.host, !hostField.isEmpty,
        let parsed = try? parseHostPort(hostField, defaultPort: nil)
      else { return nil }
      // git's own helpers match a field only when the request has it, and then exactly (credential.c,
      // credential_match): a path, or an explicitly empty `username=`, matches no mailcred credential
      // (they have no path and never an empty user), so such a request is a miss, not "any user".
      if let path = message.path, !path.isEmpty { return nil }
      if message.username == "" { return nil }
      host = parsed.host
      port = parsed.port
      user = message.username
    }

    func matches(_ credential: Credential) -> Bool {
      guard let endpoint = proto == .smtp ? credential.smtp : credential.imap else { return false }
      if endpoint.host.lowercased() != host.lowercased() { return false }
      if let port, endpoint.port != port { return false }
      if let user, credential.user != user { return false }
      return true
    }

    /// The endpoint a new credential gets from a `store` request.
    var endpoint: Endpoint {
      let resolvedPort = port ?? Endpoint.defaultPort(for: proto, security: security)
      return Endpoint(proto: proto, host: host, port: resolvedPort, security: security ?? .default(for: proto, port: resolvedPort))
    }
  }

  /// The first current credential matching the request (git's helpers answer with the first match).
  func match(_ target: Target, state: CredentialState = .current) throws(MailcredError) -> CredentialStore.Entry? {
    try store.all().first { $0.credential.state == state && target.matches($0.credential) }
  }

  /// `get`: the answer to print, or nil for a miss (git then asks elsewhere).
  public func get(_ request: GitCredentialMessage) throws(MailcredError) -> (GitCredentialMessage, SecretBytes)? {
    guard let target = Target(request), let entry = try match(target) else { return nil }
    if entry.item.locked { throw .keyring(.locked) }
    if entry.credential.kind == .oauth2 { return try bearerReply(request, entry) }
    let secret = try store.secret(of: entry)
    var reply = GitCredentialMessage()
    reply["username"] = entry.credential.user
    if let expires = entry.credential.expires {
      reply["password_expiry_utc"] = String(Int(expires.timeIntervalSince1970))
    }
    return (reply, secret)
  }

  public enum StoreOutcome: Equatable, Sendable {
    case ignored
    case unchanged(String)
    case updated(String)
    case created(String)
  }

  /// `store`: git reports a password that worked. An unchanged secret leaves the item alone; a changed one
  /// replaces it (new `created`); an unknown login becomes a new credential named USER@HOST.
  public func store(_ request: GitCredentialMessage, now: Date) throws(MailcredError) -> StoreOutcome {
    guard var target = Target(request), let user = target.user, let password = request.password,
      !password.isEmpty
    else { return .ignored }
    target.user = user
    let secret = SecretBytes(taking: Array(password.utf8))
    let accepted: SecretRules.Accepted
    do { accepted = try SecretRules.accept(secret, keepWhitespace: true) } catch { throw .input(error) }
    let expires = request["password_expiry_utc"].flatMap { Int($0) }.map { Date(timeIntervalSince1970: Double($0)) }

    if let entry = try match(target) {
      // What git reports back for an oauth2 credential is the access token we gave it, not a new secret.
      if entry.credential.kind == .oauth2 { return .unchanged(entry.credential.account) }
      let stored = try store.secret(of: entry)
      if stored == accepted.secret {
        if let expires, entry.credential.expires != expires {
          var credential = entry.credential
          credential.expires = expires
          try store.update(entry, to: credential)
        }
        return .unchanged(entry.credential.account)
      }
      var credential = entry.credential
      credential.created = now
      credential.expires = expires
      credential.checked = nil
      credential.checkResult = nil
      try store.add(credential, secret: accepted.secret, replace: true)
      return .updated(credential.account)
    }

    let account = try freeAccountName(user: user, target: target)
    var credential = Credential(account: account, kind: .password, user: user, created: now, expires: expires)
    if target.proto == .smtp { credential.smtp = target.endpoint } else { credential.imap = target.endpoint }
    try store.add(credential, secret: accepted.secret, replace: false)
    return .created(account)
  }

  /// `erase`: after a failed login git asks to forget the password. The item is kept as `erased` (see
  /// `mailcred restore`) rather than deleted: one failure must not destroy the only copy of an app
  /// password. When the request carries a password, only an item holding that password is erased.
  public func erase(_ request: GitCredentialMessage) throws(MailcredError) -> [String] {
    guard let target = Target(request) else { return [] }
    // Like git's own helpers, erase every matching credential (a request without a username matches each
    // user at that host), each one only when it holds the given password.
    let given = request.password.map { SecretBytes(taking: Array($0.utf8)) }
    var erased: [String] = []
    for entry in try store.all() where entry.credential.state == .current && target.matches(entry.credential) {
      // One refused access token says nothing about the grant: the next `get` refreshes it. `mailcred
      // remove` (or `authorize`) is how an oauth2 credential goes.
      if entry.credential.kind == .oauth2 { continue }
      if let given, !(try store.secret(of: entry) == given) { continue }
      try store.erase(entry)
      erased.append(entry.credential.account)
    }
    return erased
  }

  private func freeAccountName(user: String, target: Target) throws(MailcredError) -> String {
    let base = "\(user)@\(target.host)"
    let candidates = [base, "\(base):\(target.endpoint.port)", "\(target.proto.rawValue):\(base):\(target.endpoint.port)"]
    for name in candidates {
      if (try? validateAccountName(name)) == nil { continue }
      if try store.entries(account: name).isEmpty { return name }
    }
    throw .conflict("cannot name a new credential for \(user) at \(target.host): every candidate name is taken", .dataError)
  }

  /// An oauth2 credential's answer: with `capability[]=authtype` from git (2.46+), the token as
  /// `authtype=Bearer` + `credential=` (and `ephemeral`: it expires within the hour, no helper should
  /// store it); otherwise the token as the password, which is what SMTP's XOAUTH2-capable clients expect.
  /// The writer puts `capability[]=authtype` first (git reads the new fields only after it) and the secret
  /// under `credential=` when `authtype` is set.
  private func bearerReply(_ request: GitCredentialMessage, _ entry: CredentialStore.Entry) throws(MailcredError)
    -> (GitCredentialMessage, SecretBytes)?
  {
    guard let bearerToken else { return nil }
    let token = try bearerToken(entry)
    var reply = GitCredentialMessage()
    reply["username"] = entry.credential.user
    if request.lists["capability"]?.contains("authtype") == true {
      reply["authtype"] = "Bearer"
      reply["ephemeral"] = "1"
    }
    return (reply, token)
  }
}

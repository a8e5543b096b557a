#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// git's `get`/`store`/`erase` (git-credential(1)) for every protocol. Two kinds of credential answer:
/// - mail accounts (`mailcred add`): a mail protocol request (smtp, smtps, submission, imap, imaps) for
///   `host:port` finds the account whose SMTP or IMAP endpoint that is; git's erase keeps them
///   recoverable (`mailcred restore`), since one failed login must not destroy the only copy of an app
///   password;
/// - `git` kind credentials: whatever else git stores (https, ...), matched as git's own helpers match
///   (credential.c, credential_match) — see GitCredentialHelper+Git.swift.
/// Nothing here writes to stderr: the CLI prints nothing on success.
public struct GitCredentialHelper: Sendable {
  public let store: CredentialStore
  /// An `oauth2` credential's valid access token (refreshed when due); set by the CLI, which owns the
  /// network. Without it oauth2 credentials are a miss.
  public var bearerToken: (@Sendable (CredentialStore.Entry) throws(MailcredError) -> SecretBytes)?

  public init(store: CredentialStore) { self.store = store }

  /// What a mail protocol request names: which protocol's endpoint, host, optional port, optional user.
  struct MailTarget: Equatable {
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
      // A mail account has no path and never an empty user: a request with a path, or with an explicit
      // `username=`, is not about one (git's rule: a field the request has must match exactly). Such a
      // request is served by the git kind credentials alone.
      if let path = message.path, !path.isEmpty { return nil }
      if message.username == "" { return nil }
      host = parsed.host
      port = parsed.port
      user = message.username
    }

    func matches(_ credential: Credential) -> Bool {
      guard credential.kind != .git, let endpoint = proto == .smtp ? credential.smtp : credential.imap else { return false }
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

  /// The first current mail account matching the request (git's helpers answer with the first match).
  func mailMatch(_ target: MailTarget) throws(MailcredError) -> CredentialStore.Entry? {
    try store.all().first { $0.credential.state == .current && target.matches($0.credential) }
  }

  /// `get`: the reply to print, or nil for a miss (git then asks the next helper, or the user).
  public func reply(to request: GitCredentialMessage) throws(MailcredError) -> GitReply? {
    if let target = MailTarget(request), let entry = try mailMatch(target) {
      if entry.item.locked { throw .keyring(.locked) }
      if entry.credential.kind == .oauth2 { return try bearerReply(request, entry) }
      var reply = GitReply(username: entry.credential.user, secret: try store.secret(of: entry))
      reply.expires = entry.credential.expires
      return reply
    }
    return try gitGet(request)
  }

  /// `get` as fields and the secret apart (the password, or the `credential=` when `authtype` is set).
  public func get(_ request: GitCredentialMessage) throws(MailcredError) -> (GitCredentialMessage, SecretBytes)? {
    guard let reply = try reply(to: request) else { return nil }
    var fields = GitCredentialMessage()
    fields["username"] = reply.username
    fields["authtype"] = reply.authtype
    if reply.ephemeral { fields["ephemeral"] = "1" }
    if let expires = reply.expires { fields["password_expiry_utc"] = String(Int64(expires.timeIntervalSince1970)) }
    return (fields, reply.secret)
  }

  public enum StoreOutcome: Equatable, Sendable {
    case ignored
    case unchanged(String)
    case updated(String)
    case created(String)
  }

  /// `store`: git reports a credential that worked. A mail protocol login with a username and a password
  /// goes to the mail account of that endpoint (an unknown one becomes a new mail account named
  /// USER@HOST); anything else is a `git` kind credential. `ephemeral=1` is never stored.
  public func store(_ request: GitCredentialMessage, now: Date) throws(MailcredError) -> StoreOutcome {
    if request["ephemeral"].map(isTrue) == true { return .ignored }
    if request["authtype"] == nil, let target = MailTarget(request), let user = target.user,
      let password = request.password, !password.isEmpty
    {
      return try mailStore(target, user: user, password: password, request: request, now: now)
    }
    return try gitStore(request, now: now)
  }

  private func mailStore(
    _ target: MailTarget, user: String, password secret: SecretBytes, request: GitCredentialMessage, now: Date
  ) throws(MailcredError) -> StoreOutcome {
    let accepted: SecretRules.Accepted
    do { accepted = try SecretRules.accept(secret, keepWhitespace: true) } catch { throw .input(error) }
    let expires = expiry(request)

    if let found = try mailMatch(target) {
      // Compare and write as one writer of the account: what was read before the lock may be stale.
      return try store.writing(account: found.credential.account) { () throws(MailcredError) in
        let entry = (try? store.current(account: found.credential.account)) ?? found
        // What git reports back for an oauth2 credential is the access token we gave it, not a new secret.
        if entry.credential.kind == .oauth2 { return .unchanged(entry.credential.account) }
        let stored = try? store.secret(of: entry)
        if let stored, stored == accepted.secret {
          if let expires, entry.credential.expires != expires {
            var credential = entry.credential
            credential.expires = expires
            try store.update(entry, to: credential)
          }
          return .unchanged(entry.credential.account)
        }
        var credential = entry.credential
        credential.state = .current
        credential.created = now
        credential.expires = expires
        credential.checked = nil
        credential.checkResult = nil
        try store.add(credential, secret: accepted.secret, replace: true)
        return .updated(credential.account)
      }
    }

    let port = target.endpoint.port
    let account = try freeAccountName(["\(user)@\(target.host)", "\(user)@\(target.host):\(port)", "\(target.proto.rawValue):\(user)@\(target.host):\(port)"])
    var credential = Credential(account: account, kind: .password, user: user, created: now, expires: expires)
    if target.proto == .smtp { credential.smtp = target.endpoint } else { credential.imap = target.endpoint }
    try store.add(credential, secret: accepted.secret, replace: false)
    return .created(account)
  }

  /// `erase`: every matching credential, each only when it holds the given password if the request
  /// carries one. Mail accounts become `erased` (recoverable); `git` kind credentials are deleted.
  /// Returns the accounts erased.
  public func erase(_ request: GitCredentialMessage, now: Date = Date()) throws(MailcredError) -> [String] {
    var erased: [String] = []
    if let target = MailTarget(request) {
      let given = request.password
      // Each account once, through its newest current item: a rotation in progress elsewhere shows two
      // current items of one account for a moment, and erasing the account is what git asks.
      var seen: Set<String> = []
      for entry in try store.all() where entry.credential.state == .current && target.matches(entry.credential) {
        // One refused access token says nothing about the grant: the next `get` refreshes it. `mailcred
        // remove` (or `authorize`) is how an oauth2 credential goes.
        if entry.credential.kind == .oauth2 || seen.contains(entry.credential.account) { continue }
        if let given, !(try store.secret(of: entry) == given) { continue }
        seen.insert(entry.credential.account)
        do throws(MailcredError) {
          try store.eraseRecoverably(entry, at: now)
        } catch {
          // Replaced by another writer since it was read: the secret git refused is gone already, and
          // the newer one is not git's to erase.
          if case .keyring(.itemVanished) = error { continue }
          throw error
        }
        erased.append(entry.credential.account)
      }
    }
    return erased + (try gitErase(request))
  }

  /// The first free, valid account name among `candidates`, then `CANDIDATE-2`, `-3`, ...
  func freeAccountName(_ candidates: [String]) throws(MailcredError) -> String {
    let valid = candidates.filter { (try? validateAccountName($0)) != nil }
    for name in valid where try store.entries(account: name).isEmpty { return name }
    let base = valid.first ?? "git"
    for n in 2...999 where (try? validateAccountName("\(base)-\(n)")) != nil {
      if try store.entries(account: "\(base)-\(n)").isEmpty { return "\(base)-\(n)" }
    }
    throw .noFreeName(candidates.first ?? "git")
  }

  /// An oauth2 credential's answer: with `capability[]=authtype` from git (2.46+), the token as
  /// `authtype=Bearer` + `credential=` (and `ephemeral`: it expires within the hour, no helper should
  /// store it); otherwise the token as the password, which is what SMTP's XOAUTH2-capable clients expect.
  private func bearerReply(_ request: GitCredentialMessage, _ entry: CredentialStore.Entry) throws(MailcredError) -> GitReply? {
    guard let bearerToken else { return nil }
    var reply = GitReply(username: entry.credential.user, secret: try bearerToken(entry))
    if request.announces("authtype") {
      reply.authtype = "Bearer"
      reply.ephemeral = true
    }
    return reply
  }
}

func expiry(_ request: GitCredentialMessage) -> Date? {
  request["password_expiry_utc"].flatMap { Int64($0) }.map { Date(timeIntervalSince1970: Double($0)) }
}

/// git's boolean values as helpers see them (`ephemeral=1`, `true`).
func isTrue(_ value: String) -> Bool { ["1", "true", "yes", "on"].contains(value.lowercased()) }

extension GitCredentialMessage {
  /// Whether git announced a capability (`capability[]=authtype`, `capability[]=state`).
  func announces(_ capability: String) -> Bool { lists["capability"]?.contains(capability) == true }
}

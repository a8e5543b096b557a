#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `git` kind credentials: what git stores for any protocol that is not one of mailcred's mail
/// accounts. The rules are git's own (credential.c `credential_match`, t/lib-credential.sh):
/// - a field the request has must equal the stored one exactly (protocol, host with its port, path,
///   username); a field the request lacks matches anything. So a path is compared only when the request
///   carries one (`credential.useHttpPath`), `username=` (empty) is a value, not a wildcard, and a request
///   without a username gets the stored one;
/// - `store` overwrites the credential of the same protocol, host, path and username; several users per
///   host are several credentials;
/// - `erase` deletes every matching credential, only those holding the given password when it has one.
extension GitCredentialHelper {
  func gitGet(_ request: GitCredentialMessage) throws(MailcredError) -> GitReply? {
    guard request.proto != nil, request.host != nil || request.path != nil else { return nil }
    // An authtype credential (a bearer token, ...) means nothing to a git that did not say it can use one.
    let canAuthtype = request.announces("authtype")
    guard
      let entry = try store.currentGitEntries().first(where: { entry in
        guard let target = entry.credential.git, gitMatches(request, target) else { return false }
        return target.authtype == nil || canAuthtype
      }), let target = entry.credential.git
    else { return nil }
    if entry.item.locked { throw .keyring(.locked) }
    let stored = try store.secret(of: entry)
    let (primary, refreshToken) = GitSecret.decode(stored)
    var reply = GitReply(username: target.username, secret: primary)
    reply.authtype = target.authtype
    reply.expires = entry.credential.expires
    reply.refreshToken = refreshToken
    return reply
  }

  func gitStore(_ request: GitCredentialMessage, now: Date) throws(MailcredError) -> StoreOutcome {
    // As git-credential-libsecret: without a protocol and a host (or a path) there is no key, and
    // without a username and a password (or an authtype credential) nothing to store.
    guard let proto = request.proto, request.host != nil || request.path != nil else { return .ignored }
    let primary: SecretBytes
    if let authtype = request["authtype"] {
      guard request.announces("authtype"), !authtype.isEmpty, let credential = request.credential else { return .ignored }
      primary = credential
    } else {
      guard request.username != nil, let password = request.password else { return .ignored }
      primary = password
    }
    let target = GitTarget(
      proto: proto, host: request.host, path: request.path, username: request.username, authtype: request["authtype"])
    let secret = GitSecret.encode(primary, refreshToken: request.refreshToken)
    let expires = expiry(request)

    let existing = try store.currentGitEntries().first { $0.credential.git.map(target.sameKey) == true }
    if let existing {
      if existing.item.locked { throw .keyring(.locked) }
      if try store.secret(of: existing) == secret {
        if existing.credential.expires == expires && existing.credential.git == target { return .unchanged(existing.credential.account) }
        var credential = existing.credential
        credential.expires = expires
        credential.git = target
        try store.update(existing, to: credential)
        return .updated(credential.account)
      }
    }
    let account: String
    if let existing { account = existing.credential.account } else { account = try freeAccountName(accountNames(target)) }
    var credential = Credential(account: account, kind: .git, user: target.username ?? "", created: now, expires: expires)
    credential.git = target
    try store.putGit(credential, secret: secret, replacing: existing)
    return existing == nil ? .created(account) : .updated(account)
  }

  func gitErase(_ request: GitCredentialMessage) throws(MailcredError) -> [String] {
    // An empty pattern would match everything, and is too easily sent by accident (git's own helpers
    // refuse it too).
    guard request.proto != nil || request.host != nil || request.path != nil || request.username != nil else { return [] }
    let given = request.password ?? request.credential
    var erased: [String] = []
    for entry in try store.currentGitEntries() {
      guard let target = entry.credential.git, gitMatches(request, target) else { continue }
      if let given {
        // Both copies are SecretBytes, wiped when they go.
        let (primary, _) = GitSecret.decode(try store.secret(of: entry))
        if primary != given { continue }
      }
      try store.discard(entry)
      erased.append(entry.credential.account)
    }
    return erased
  }

  /// Names people can type: `user@host`, then `protocol:user@host` (`host` alone without a username).
  private func accountNames(_ target: GitTarget) -> [String] {
    let place = target.host ?? target.path ?? target.proto
    let base = (target.username?.isEmpty == false) ? "\(target.username!)@\(place)" : place
    return [base, "\(target.proto):\(base)"]
  }
}

/// git's credential_match: each field the request has must be equal; a missing one matches anything.
func gitMatches(_ request: GitCredentialMessage, _ target: GitTarget) -> Bool {
  func check(_ want: String?, _ have: String?) -> Bool { want == nil || want == have }
  return check(request.proto, target.proto) && check(request.host, target.host) && check(request.path, target.path)
    && check(request.username, target.username)
}

/// What `get` prints: `username`, `password`, `password_expiry_utc`, `oauth_refresh_token`; for an
/// authtype credential `capability[]=authtype` first, then `authtype`, `ephemeral` and `credential` last.
public struct GitReply {
  public var username: String?
  /// The password, or the `credential=` of an authtype reply.
  public var secret: SecretBytes
  public var authtype: String?
  public var ephemeral = false
  public var expires: Date?
  public var refreshToken: SecretBytes?

  public init(username: String?, secret: SecretBytes) {
    self.username = username
    self.secret = secret
  }

  /// The reply's bytes; the caller wipes them after writing. A value holding NUL, CR or LF is never
  /// written (it would inject a line); a secret never holds one (the parser and SecretRules see to it).
  public func bytes() -> SecretBytes {
    var out = SecretBuffer(capacity: 128 + secret.count + (refreshToken?.count ?? 0))
    // git reads `authtype` and `credential` only after the helper's `capability[]=authtype`; the secret of
    // an authtype reply goes last.
    if authtype != nil { out.appendLine("capability[]", "authtype") }
    if let username { out.appendLine("username", username) }
    if authtype == nil { out.appendLine("password", secret) }
    if let expires { out.appendLine("password_expiry_utc", String(Int64(expires.timeIntervalSince1970))) }
    if let refreshToken { out.appendLine("oauth_refresh_token", refreshToken) }
    if let authtype { out.appendLine("authtype", authtype) }
    if ephemeral { out.appendLine("ephemeral", "1") }
    if authtype != nil { out.appendLine("credential", secret) }
    return out.finish()
  }
}

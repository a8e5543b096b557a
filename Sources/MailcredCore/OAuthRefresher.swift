#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Hands out a valid access token for an `oauth2` credential, refreshing it when it expires within five
/// minutes (`OAuthPayload.refreshMargin`): what `get`, `check`, `audit` and the git helper use.
///
/// Many mail programs start at once (mbsync channels, a cron'd msmtp queue, several neomutt hooks), and a
/// provider that rotates refresh tokens invalidates the old one on use, so two concurrent refreshes would
/// lose the grant. Hence: refresh only under the account's write lock (the store's), re-read the
/// keyring after taking it (another process may have refreshed meanwhile), and store the new payload before
/// anything else — the Secret Service replaces the item with identical attributes in one operation, so the
/// old refresh token is dropped only by the write that stores its successor.
public struct OAuthRefresher: Sendable {
  public let store: CredentialStore
  public let transport: any OAuthTransport
  public let now: @Sendable () -> Date

  public init(store: CredentialStore, transport: any OAuthTransport, now: @escaping @Sendable () -> Date) {
    self.store = store
    self.transport = transport
    self.now = now
  }

  public struct Token: Sendable {
    public var accessToken: SecretBytes
    /// Whether this call refreshed it (a token endpoint round trip was made).
    public var refreshed: Bool
    /// Something the user should hear although a token was handed out (stderr).
    public var warning: Advice?
    /// When the refresh happened (recorded as the credential's `refreshed`), when this call refreshed.
    public var refreshedAt: Date? = nil
  }

  /// A valid access token for `account`. `stored` is the keyring secret when the caller already read it
  /// (the `get` fast path); a token valid for five more minutes is then returned without another keyring
  /// call. `force` refreshes even a valid token: `check` and `audit` verify the grant itself (a revoked
  /// refresh token must show up before the cached access token expires and mail stops).
  public func accessToken(account: String, stored: SecretBytes? = nil, force: Bool = false) throws(OAuthFailure) -> Token {
    if !force, let stored, let payload = try? OAuthPayload(parsing: stored) {
      defer { payload.wipe() }
      if let token = payload.accessToken(validAt: now()) { return Token(accessToken: copy(token), refreshed: false) }
    }
    let result: Result<Token, OAuthFailure>
    do {
      result = try store.writing(account: account) { () throws(MailcredError) in
        Result { () throws(OAuthFailure) in try refreshLocked(account: account, force: force) }
      }
    } catch {
      throw .store(error)
    }
    return try result.get()
  }

  /// The rest of `accessToken`, holding the account's write lock.
  private func refreshLocked(account: String, force: Bool) throws(OAuthFailure) -> Token {
    let entry: CredentialStore.Entry
    let secret: SecretBytes
    do {
      entry = try store.current(account: account)
      secret = try store.secret(of: entry)
    } catch {
      throw .store(error)
    }
    defer { secret.wipe() }
    guard entry.credential.kind == .oauth2 else {
      throw .malformed("'\(account)' is a \(entry.credential.kind.rawValue) credential, not oauth2")
    }
    let payload: OAuthPayload
    do { payload = try OAuthPayload(parsing: secret) } catch { throw .reauthorize(error.description, account: account) }
    defer { payload.wipe() }
    // Another process refreshed while we waited for the lock.
    if !force, let token = payload.accessToken(validAt: now()) { return Token(accessToken: copy(token), refreshed: false) }
    guard let settings = entry.credential.oauth else {
      throw .reauthorize("'\(account)' has no token endpoint or client id stored", account: account)
    }

    let requested = now()
    let client = OAuthClient(transport: transport, settings: settings, clientSecret: payload.clientSecret)
    let refreshed = Result { () throws(OAuthFailure) in try client.refresh(payload.refreshToken) }
    switch refreshed {
    case .failure(let failure):
      // The provider is unreachable but the cached token still works for a while: mail goes out now.
      if failure.verdict != .rejected, let token = payload.accessToken(validAt: now(), margin: 10) {
        let left = Int(payload.accessExpires!.timeIntervalSince(now()))
        return Token(
          accessToken: copy(token), refreshed: false,
          warning: "could not refresh the access token of \(account) (\(failure.detail)); using the current one, valid for \(left) more seconds")
      }
      throw failure
    case .success(let grant):
      let lifetime = Double(grant.expiresIn ?? 3600)
      let fresh = OAuthPayload(
        refreshToken: grant.refreshToken ?? copy(payload.refreshToken), accessToken: grant.accessToken,
        accessExpires: Date(timeIntervalSince1970: (requested.timeIntervalSince1970 + lifetime).rounded(.down)),
        clientSecret: payload.clientSecret.map(copy))
      defer { fresh.wipe() }
      let encoded = fresh.encoded()
      defer { encoded.wipe() }
      var warning: Advice?
      do {
        // One write: the new item (with the refresh time) is stored before the old one, and with it the
        // old refresh token, is deleted.
        var refreshed = entry.credential
        refreshed.refreshed = requested
        try store.add(refreshed, secret: encoded, replace: true)
      } catch {
        warning = "refreshed the access token of \(account) but could not store it (\(error.message))"
          + (grant.refreshToken != nil ? "; the provider rotated the refresh token, so the next refresh may need `\(command: .authorize(account))`" : "")
      }
      return Token(accessToken: copy(grant.accessToken), refreshed: true, warning: warning, refreshedAt: requested)
    }
  }
}

/// A copy with its own buffer (the original's owner wipes it independently).
func copy(_ secret: SecretBytes) -> SecretBytes {
  SecretBytes(taking: secret.withUnsafeBytes { Array($0) })
}

extension OAuthFailure {
  /// The one-line message `get` and the git helper print, naming what to do.
  public func message(account: String) -> Advice {
    if let (problem, code) = TokenEndpointProblem.classify(self) {
      return "the token endpoint refused to refresh the grant of \(account) (\(detail)): "
        + problem.hint(account: account, code: code)
    }
    switch self {
    case .refused(let error, _) where verdict == .rejected:
      return "the token endpoint refused the refresh token of \(account) (\(detail)): the grant was revoked "
        + "or expired — `\(command: .authorize(account))`" + Advice(error == "invalid_client" ? " (check the client id)" : "")
    case .store, .reauthorize, .noDeviceEndpoint: return self.message
    default: return "could not refresh the access token of \(account): \(detail)"
    }
  }
}

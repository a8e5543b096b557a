#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

/// The token every request carries, found the way OpenBao's own CLI finds one: BAO_TOKEN, then
/// VAULT_TOKEN, then AppRole files (servers), then a token file (`token-file`, else ~/.vault-token).
///
/// An AppRole token is cached (`OpenBaoTokenCache`: a mode-600 file under $XDG_RUNTIME_DIR) so that each
/// `get` of a server is one read, not a login (a write the leader must make) plus a read. A cached token
/// is used until shortly before it expires; past two thirds of its TTL it is renewed (renew-self), and a
/// token the server refuses, or one that could not be renewed in time, is replaced by a fresh login.
final class OpenBaoLogin: @unchecked Sendable {
  let settings: OpenBaoSettings
  private let lock = PthreadLock()
  private var token: SecretBytes?
  /// Whether the token in use came from the cache (a refusal then means: log in anew). Under `lock`.
  private var fromCache = false
  var tokenIsCached: Bool {
    lock.lock()
    defer { lock.unlock() }
    return fromCache
  }
  private let cache: OpenBaoTokenCache?

  init(settings: OpenBaoSettings) {
    self.settings = settings
    cache = settings.roleIDFile.flatMap { role in OpenBaoTokenCache(settings: settings, roleIDFile: role) }
  }

  func token(_ api: OpenBaoAPI) throws(KeyringError) -> SecretBytes? {
    lock.lock()
    defer { lock.unlock() }
    if let token { return token }
    let found = try find(api)
    token = found
    return found
  }

  /// Forgets a token the server refused (and its cached copy), so that the next `token` logs in anew.
  func discard(_ refused: SecretBytes?) {
    lock.lock()
    defer { lock.unlock() }
    if let refused, let token, token == refused { self.token = nil }
    if fromCache { cache?.remove() }
    fromCache = false
  }

  private func find(_ api: OpenBaoAPI) throws(KeyringError) -> SecretBytes {
    if let token = OpenBaoToken.environmentToken() { return token }
    if let roleFile = settings.roleIDFile, let secretFile = settings.secretIDFile {
      if var cached = cache?.read() {
        fromCache = true
        if cached.needsRenewal, let renewed = renew(api, cached.token) {
          cached.lease = renewed
          cache?.write(cached)
        }
        if !cached.expired { return cached.token }
      }
      fromCache = false
      let fresh = try approleLogin(api, roleFile, secretFile)
      cache?.write(fresh)
      return fresh.token
    }
    if let file = settings.tokenFile { return try OpenBaoToken.readPrivateFile(file, what: "token") }
    if let file = OpenBaoToken.defaultTokenFile(), access(file, F_OK) == 0 {
      return try OpenBaoToken.readPrivateFile(file, what: "token")
    }
    throw .denied("no OpenBao token: set BAO_TOKEN, run `bao login` (writes ~/.vault-token), or configure AppRole (role-id-file, secret-id-file)")
  }

  /// AppRole login (servers): role_id and secret_id from mode-600 files.
  private func approleLogin(_ api: OpenBaoAPI, _ roleFile: String, _ secretFile: String) throws(KeyringError) -> OpenBaoTokenCache.Entry {
    let role = try OpenBaoToken.readPrivateFile(roleFile, what: "role-id")
    let secret = try OpenBaoToken.readPrivateFile(secretFile, what: "secret-id")
    // Escaping grows a byte at most sixfold: one buffer of that size, never moved.
    var body = SecretBuffer(capacity: 64 + 6 * (role.count + secret.count))
    body.append(#"{"role_id":"#)
    appendJSONString(role, to: &body)
    body.append(#","secret_id":"#)
    appendJSONString(secret, to: &body)
    body.append(UInt8(ascii: "}"))
    var answer = try api.send("POST", "auth/\(settings.approleMount)/login", body: body.finish(), token: nil)
    defer { answer.json?.wipe() }
    guard answer.status == 200, let auth = answer.json?["auth"], case .string(let token)? = auth["client_token"] else {
      let message = answer.json?["errors"]?.array?.compactMap(\.text).joined(separator: "; ") ?? ""
      throw .denied("OpenBao AppRole login refused (HTTP \(answer.status)\(message.isEmpty ? "" : ": \(message)")) — check the role-id and secret-id files")
    }
    return OpenBaoTokenCache.Entry(token: SecretBytes(taking: Array(token)), lease: Self.lease(auth))
  }

  /// renew-self for a token past two thirds of its TTL; nil when the server would not (the caller then
  /// goes on with the token while it is valid, and logs in once it is not).
  private func renew(_ api: OpenBaoAPI, _ token: SecretBytes) -> OpenBaoTokenCache.Lease? {
    guard var answer = try? api.send("POST", "auth/token/renew-self", body: SecretBytes(taking: Array("{}".utf8)), token: token)
    else { return nil }
    defer { answer.json?.wipe() }
    guard answer.status == 200, let auth = answer.json?["auth"] else { return nil }
    return Self.lease(auth)
  }

  private static func lease(_ auth: BaoJSON) -> OpenBaoTokenCache.Lease {
    let ttl = auth["lease_duration"]?.integer ?? 0
    let renewable = if case .bool(true)? = auth["renewable"] { true } else { false }
    return OpenBaoTokenCache.Lease(obtained: wallClock(), ttl: ttl, renewable: renewable)
  }
}

func wallClock() -> Double {
  var spec = timespec()
  clock_gettime(CLOCK_REALTIME, &spec)
  return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

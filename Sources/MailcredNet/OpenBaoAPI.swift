#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

/// OpenBao's HTTP API as the store uses it: one verified-TLS request per call, the token in
/// `X-Vault-Token` (written from its wipeable buffer), `X-Vault-Namespace` when configured, and every
/// failure turned into a `KeyringError` whose one line says what to do.
final class OpenBaoAPI: @unchecked Sendable {
  let settings: OpenBaoSettings
  private let tokenLock = PthreadLock()
  private var token: SecretBytes?

  init(settings: OpenBaoSettings) { self.settings = settings }

  struct Answer {
    var status: Int
    var json: BaoJSON?
  }

  /// `method` on `/v1/PATH`; `body` is JSON. Statuses other than 2xx and 404 become errors (404 is the
  /// caller's: a missing item, an empty folder).
  func call(_ method: String, _ path: String, body: SecretBytes? = nil, what: String) throws(KeyringError) -> Answer {
    let token = try currentToken()
    let answer = try send(method, path, body: body, token: token)
    switch answer.status {
    case 200..<300, 404: return answer
    default: throw describe(answer, method: method, path: path, what: what, token: token)
    }
  }

  private func send(_ method: String, _ path: String, body: SecretBytes?, token: SecretBytes?) throws(KeyringError) -> Answer {
    var headers: [(String, String)] = []
    if body != nil { headers.append(("Content-Type", "application/json")) }
    if let namespace = settings.namespace, !namespace.isEmpty { headers.append(("X-Vault-Namespace", namespace)) }
    let url = HTTPSURL(host: settings.host, port: settings.port, target: "/v1/" + path)
    let result: Result<HTTPAnswer, NetError> = onJoinedThreadIfNeeded {
      do throws(NetError) {
        return .success(try self.exchange(method, url, headers: headers, token: token, body: body))
      } catch { return .failure(error) }
    }
    switch result {
    case .success(let answer):
      var json = answer.body.isEmpty ? nil : answer.body.withUnsafeBytes { BaoJSON.parse(Array($0)) }
      // Bodies with a secret in them are wiped by the caller through `json`; the raw buffer here.
      answer.body.wipe()
      if answer.status >= 500, json == nil { json = .null }
      return Answer(status: answer.status, json: json)
    case .failure(let error):
      let address = url.hostHeader
      switch error {
      case .timeout: throw .failed("OpenBao at \(address) did not answer within \(Int(settings.timeout)) s — is it up? (MAILCRED_STORE_TIMEOUT sets the wait)")
      case .refused, .unreachable, .dns:
        throw .failed("cannot reach OpenBao at \(address): \(error) — is it running, and is the address in the store setting right?")
      case .tls(let why):
        throw .failed("TLS with OpenBao at \(address) failed: \(why) — give its CA with ca-file in the mailcred config (or BAO_CACERT)")
      default: throw .failed("OpenBao at \(address): \(error)")
      }
    }
  }

  /// One request on a kept-alive connection of the pool (a new one when none is idle). A reused connection
  /// the server closed meanwhile fails before any answer arrives: the request is then sent once more on a
  /// fresh connection. A 1,000-item search is so 2,000 requests on `jobs` connections, not 2,000 handshakes.
  private func exchange(_ method: String, _ url: HTTPSURL, headers: [(String, String)], token: SecretBytes?, body: SecretBytes?) throws(NetError) -> HTTPAnswer {
    let deadline = Deadline(secondsFromNow: settings.timeout)
    let secretHeaders = token.map { [("X-Vault-Token", $0)] } ?? []
    if let idle = pool.take() {
      do throws(NetError) {
        let (answer, reusable) = try httpsExchange(
          on: idle, method: method, url, headers: headers, secretHeaders: secretHeaders, body: body, keepAlive: true, deadline: deadline)
        if reusable { pool.give(idle) }
        return answer
      } catch {
        switch error {
        case .closed, .io: break  // the server dropped the idle connection: once more, fresh
        default: throw error
        }
      }
    }
    let connection = try openHTTPS(url, caFile: settings.caFile, deadline: deadline)
    let (answer, reusable) = try httpsExchange(
      on: connection, method: method, url, headers: headers, secretHeaders: secretHeaders, body: body, keepAlive: true, deadline: deadline)
    if reusable { pool.give(connection) }
    return answer
  }

  private let pool = ConnectionPool()

  /// The error of a refused request. A 403 is asked about once more (token/lookup-self): a token the
  /// server no longer accepts needs a new login, a valid token without the capability needs a policy.
  private func describe(_ answer: Answer, method: String, path: String, what: String, token: SecretBytes?) -> KeyringError {
    let message = answer.json?["errors"]?.array?.compactMap(\.text).joined(separator: "; ") ?? ""
    let address = HTTPSURL(host: settings.host, port: settings.port).hostHeader
    switch answer.status {
    case 503 where message.lowercased().contains("sealed"):
      return .failed("OpenBao at \(address) is sealed — unseal it (bao operator unseal) and try again")
    case 403:
      let probe = try? send("GET", "auth/token/lookup-self", body: nil, token: token)
      if probe?.status == 403 || token == nil {
        return .denied("OpenBao refused the token (expired, revoked or missing) — log in again (bao login, or check the AppRole role-id/secret-id files)")
      }
      return .denied("OpenBao: permission denied to \(what) (\(method) /v1/\(path)) — the token's policy lacks that capability")
    case 429, 500..<600:
      return .failed("OpenBao at \(address) answered HTTP \(answer.status) to \(what)\(message.isEmpty ? "" : ": \(message)") — try again later")
    default:
      return .failed("OpenBao refused to \(what) (HTTP \(answer.status)\(message.isEmpty ? "" : ": \(message)"))")
    }
  }

  // MARK: Token

  private func currentToken() throws(KeyringError) -> SecretBytes? {
    tokenLock.lock()
    defer { tokenLock.unlock() }
    if let token { return token }
    let found = try findToken()
    token = found
    return found
  }

  private func findToken() throws(KeyringError) -> SecretBytes {
    if let token = OpenBaoToken.environmentToken() { return token }
    if let roleFile = settings.roleIDFile, let secretFile = settings.secretIDFile { return try approleLogin(roleFile, secretFile) }
    if let file = settings.tokenFile { return try OpenBaoToken.readPrivateFile(file, what: "token") }
    if let file = OpenBaoToken.defaultTokenFile(), access(file, F_OK) == 0 {
      return try OpenBaoToken.readPrivateFile(file, what: "token")
    }
    throw .denied("no OpenBao token: set BAO_TOKEN, run `bao login` (writes ~/.vault-token), or configure AppRole (role-id-file, secret-id-file)")
  }

  /// AppRole login (servers): role_id and secret_id from mode-600 files, a fresh token per process (its
  /// TTL is the role's; a process never outlives it, so it needs no renewal).
  private func approleLogin(_ roleFile: String, _ secretFile: String) throws(KeyringError) -> SecretBytes {
    let role = try OpenBaoToken.readPrivateFile(roleFile, what: "role-id")
    let secret = try OpenBaoToken.readPrivateFile(secretFile, what: "secret-id")
    var body = SecretBuffer(capacity: 64 + 6 * (role.count + secret.count))
    body.append(#"{"role_id":"#)
    appendJSONString(role, to: &body)
    body.append(#","secret_id":"#)
    appendJSONString(secret, to: &body)
    body.append(UInt8(ascii: "}"))
    var answer = try send("POST", "auth/\(settings.approleMount)/login", body: body.finish(), token: nil)
    defer { answer.json?.wipe() }
    guard answer.status == 200, case .string(let token)? = answer.json?["auth"]?["client_token"] else {
      let message = answer.json?["errors"]?.array?.compactMap(\.text).joined(separator: "; ") ?? ""
      throw .denied("OpenBao AppRole login refused (HTTP \(answer.status)\(message.isEmpty ? "" : ": \(message)")) — check the role-id and secret-id files")
    }
    return SecretBytes(taking: Array(token))
  }
}

/// Idle kept-alive connections to the one OpenBao server.
final class ConnectionPool: @unchecked Sendable {
  private let lock = PthreadLock()
  private var idle: [LineConnection] = []

  func take() -> LineConnection? {
    lock.lock()
    defer { lock.unlock() }
    return idle.popLast()
  }

  func give(_ connection: LineConnection) {
    lock.lock()
    defer { lock.unlock() }
    if idle.count < 64 { idle.append(connection) }
  }
}

/// A pthread mutex (the API is shared by the threads of a concurrent search).
final class PthreadLock: @unchecked Sendable {
  private var mutex = pthread_mutex_t()
  init() { pthread_mutex_init(&mutex, nil) }
  deinit { pthread_mutex_destroy(&mutex) }
  func lock() { pthread_mutex_lock(&mutex) }
  func unlock() { pthread_mutex_unlock(&mutex) }
}

/// Requests already on a thread of ours (a concurrent search's workers) run in place; others move to a
/// joined thread with SIGPIPE blocked, as every other network call of mailcred.
private func onJoinedThreadIfNeeded<T>(_ work: @escaping () -> T) -> T {
  if OpenBaoWorkers.onWorker { return work() }
  return onJoinedThread(work)
}

/// Runs `body` for every index in 0..<count on up to `width` threads (SIGPIPE blocked there); results in
/// index order. Reads of 1,000 items are then 1,000/width round trips deep instead of 1,000.
enum OpenBaoWorkers {
  private static let key: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
  }()

  static var onWorker: Bool { pthread_getspecific(key) != nil }

  static func map<T>(_ count: Int, width: Int = 16, _ body: @escaping (Int) -> T) -> [T] {
    if count == 0 { return [] }
    let results = ResultSlots<T>(count)
    let next = PthreadLock()
    var cursor = 0
    let worker = {
      pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
      while true {
        next.lock()
        let index = cursor
        cursor += 1
        next.unlock()
        guard index < count else { return }
        (results.values + index).initialize(to: body(index))
      }
    }
    var threads: [pthread_t] = []
    for _ in 0..<min(width, count) {
      if let thread = startThread(detached: false, worker) { threads.append(thread) }
    }
    if threads.isEmpty { worker() }
    for thread in threads { pthread_join(thread, nil) }
    return (0..<count).map { (results.values + $0).move() }
  }

  /// One slot per index, written by exactly one worker each: no shared Swift array mutated across threads.
  private final class ResultSlots<T> {
    let values: UnsafeMutablePointer<T>
    init(_ count: Int) { values = .allocate(capacity: count) }
    deinit { values.deallocate() }
  }
}

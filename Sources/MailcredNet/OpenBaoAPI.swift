#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

/// OpenBao's HTTP API as the store uses it: one verified-TLS request per call, the token in
/// `X-Vault-Token` (written from its wipeable buffer), `X-Vault-Namespace` when configured, and every
/// failure turned into a `KeyringError` whose one line says what to do.
///
/// Failover: a call tries the configured nodes in turn, starting with the one that answered last. A node
/// that is down (refused, unreachable, timed out, TLS failed) or cannot serve now (sealed, or a standby
/// whose leader is gone: it answers 307 or a 5xx "no active node") passes the call to the next. While
/// some node says "no leader yet", the round is repeated until the call's deadline (`timeout`): a cluster
/// electing a new leader answers within it. Reads are served by standbys themselves, writes are forwarded
/// by them to the leader, so any live node will do.
final class OpenBaoAPI: @unchecked Sendable {
  let settings: OpenBaoSettings
  let login: OpenBaoLogin
  private let pools: [ConnectionPool]
  private let preferredLock = PthreadLock()
  private var preferred = 0
  /// The storage index of this process's last write (OpenBao's X-Vault-Index). Sent with every later
  /// request, with `X-Vault-Inconsistent: forward-active-node`: a standby that has not yet applied that
  /// write passes the request to the active node instead of answering from its older copy. A write
  /// sequence (under the account lock, whose record is itself a write) so reads what it, and every writer
  /// before it, wrote; a process that never writes (`get`) reads from any node, even without a leader.
  private var index: String?

  init(settings: OpenBaoSettings) {
    self.settings = settings
    pools = settings.nodes.map { _ in ConnectionPool() }
    login = OpenBaoLogin(settings: settings)
  }

  struct Answer {
    var status: Int
    var json: BaoJSON?
  }

  /// `method` on `/v1/PATH`; `body` is JSON. Statuses other than 2xx and 404 become errors (404 is the
  /// caller's: a missing item, an empty folder). A cached AppRole token the server no longer accepts is
  /// replaced by a fresh login once.
  func call(_ method: String, _ path: String, body: SecretBytes? = nil, what: String) throws(KeyringError) -> Answer {
    var token = try login.token(self)
    var answer = try send(method, path, body: body, token: token)
    var tokenRefused: Bool?
    if answer.status == 403 {
      tokenRefused = self.tokenRefused(token)
      if tokenRefused == true, login.tokenIsCached {
        login.discard(token)
        token = try login.token(self)
        answer = try send(method, path, body: body, token: token)
        tokenRefused = answer.status == 403 ? self.tokenRefused(token) : nil
      }
    }
    switch answer.status {
    case 200..<300, 404: return answer
    default: throw describe(answer, method: method, path: path, what: what, tokenRefused: tokenRefused ?? false)
    }
  }

  /// After a 403: whether the server refuses the token itself (expired, revoked: a new login helps) rather
  /// than the capability (a policy matter).
  private func tokenRefused(_ token: SecretBytes?) -> Bool {
    guard let token else { return true }
    let probe = try? send("GET", "auth/token/lookup-self", body: nil, token: token)
    return probe?.status == 403
  }

  /// One request, failed over across the nodes within one deadline (see the type's comment).
  func send(_ method: String, _ path: String, body: SecretBytes?, token: SecretBytes?) throws(KeyringError) -> Answer {
    let deadline = Deadline(secondsFromNow: settings.timeout)
    let count = settings.nodes.count
    var pause = 0.1
    var lastAnswer: Answer?
    var lastError: KeyringError?
    while true {
      var electing = false
      let start = preferredNode()
      for offset in 0..<count where deadline.remaining > 0 {
        let index = (start + offset) % count
        switch attempt(index, method, path, body: body, token: token, deadline: deadline) {
        case .success(let answer):
          let state = Self.nodeState(answer)
          if state == .serving {
            setPreferred(index)
            return answer
          }
          if state == .electing { electing = true }
          lastAnswer = answer
        case .failure(let error):
          lastError = error
        }
      }
      guard electing, deadline.remaining > pause else { break }
      usleep(useconds_t(pause * 1e6))
      pause = min(pause * 2, 1)
    }
    // A node's own answer (sealed, no leader) says more than another node's silence.
    if let lastAnswer { return lastAnswer }
    throw lastError ?? .failed("OpenBao did not answer within \(Int(settings.timeout)) s — is it up? (MAILCRED_STORE_TIMEOUT sets the wait)")
  }

  enum NodeState { case serving, sealed, electing }

  /// Whether an answer is the cluster's (serving) or only this node's inability to serve: sealed, or a
  /// standby that has no active node to forward to (307 to the leader, or 5xx naming it).
  static func nodeState(_ answer: Answer) -> NodeState {
    let message = (answer.json?["errors"]?.array?.compactMap(\.text).joined(separator: "; ") ?? "").lowercased()
    switch answer.status {
    case 307: return .electing
    case 503 where message.contains("sealed"): return .sealed
    case 500, 502, 503:
      let leaderless = ["active node", "active cluster node", "leader", "standby", "forward"].contains { message.contains($0) }
      return leaderless || (answer.status == 503 && message.isEmpty) ? .electing : .serving
    default: return .serving
    }
  }

  private func preferredNode() -> Int {
    preferredLock.lock()
    defer { preferredLock.unlock() }
    return preferred
  }

  private func setPreferred(_ index: Int) {
    preferredLock.lock()
    preferred = index
    preferredLock.unlock()
  }

  private func lastIndex() -> String? {
    preferredLock.lock()
    defer { preferredLock.unlock() }
    return index
  }

  /// Writes of one process follow one another, so the last one's index is the highest. (Only printable
  /// ASCII goes into a header.)
  private func setIndex(_ value: String) {
    guard value.utf8.count < 512, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return }
    preferredLock.lock()
    index = value
    preferredLock.unlock()
  }

  /// One request to one node, its transport failure described for that node.
  private func attempt(
    _ index: Int, _ method: String, _ path: String, body: SecretBytes?, token: SecretBytes?, deadline: Deadline
  ) -> Result<Answer, KeyringError> {
    var headers: [(String, String)] = []
    if body != nil { headers.append(("Content-Type", "application/json")) }
    if let namespace = settings.namespace, !namespace.isEmpty { headers.append(("X-Vault-Namespace", namespace)) }
    if let index = lastIndex() { headers += [("X-Vault-Index", index), ("X-Vault-Inconsistent", "forward-active-node")] }
    let node = settings.nodes[index]
    let url = HTTPSURL(host: node.host, port: node.port, target: "/v1/" + path)
    // With other nodes to try, a silent one may not take the whole deadline to connect.
    let connectDeadline = settings.nodes.count > 1 ? deadline.capped(at: 3) : deadline
    let result: Result<HTTPAnswer, NetError> = onJoinedThreadIfNeeded {
      do throws(NetError) {
        return .success(try self.exchange(index, method, url, headers: headers, token: token, body: body, deadline: deadline, connectDeadline: connectDeadline))
      } catch { return .failure(error) }
    }
    switch result {
    case .success(let answer):
      var json = answer.body.isEmpty ? nil : answer.body.withUnsafeBytes { BaoJSON.parse(Array($0)) }
      // Bodies with a secret in them are wiped by the caller through `json`; the raw buffer here.
      answer.body.wipe()
      if answer.status >= 500, json == nil { json = .null }
      if method != "GET", method != "LIST", answer.status / 100 == 2, let index = answer.headers["x-vault-index"], !index.isEmpty {
        setIndex(index)
      }
      return .success(Answer(status: answer.status, json: json))
    case .failure(let error):
      let address = url.hostHeader
      switch error {
      case .timeout: return .failure(.failed("OpenBao at \(address) did not answer within \(Int(settings.timeout)) s — is it up? (MAILCRED_STORE_TIMEOUT sets the wait)"))
      case .refused, .unreachable, .dns:
        return .failure(.failed("cannot reach OpenBao at \(address): \(error) — is it running, and is the address in the store setting right?"))
      case .tls(let why):
        return .failure(.failed("TLS with OpenBao at \(address) failed: \(why) — give its CA with ca-file in the mailcred config (or BAO_CACERT)"))
      default: return .failure(.failed("OpenBao at \(address): \(error)"))
      }
    }
  }

  /// One request on a kept-alive connection of the node's pool (a new one when none is idle). A reused
  /// connection the server closed meanwhile fails before any answer arrives: the request is then sent once
  /// more on a fresh connection. A 1,000-item search is so 2,000 requests on `jobs` connections.
  private func exchange(
    _ index: Int, _ method: String, _ url: HTTPSURL, headers: [(String, String)], token: SecretBytes?, body: SecretBytes?,
    deadline: Deadline, connectDeadline: Deadline
  ) throws(NetError) -> HTTPAnswer {
    let secretHeaders = token.map { [("X-Vault-Token", $0)] } ?? []
    if let idle = pools[index].take() {
      do throws(NetError) {
        let (answer, reusable) = try httpsExchange(
          on: idle, method: method, url, headers: headers, secretHeaders: secretHeaders, body: body, keepAlive: true, deadline: deadline)
        if reusable { pools[index].give(idle) }
        return answer
      } catch {
        switch error {
        case .closed, .io: break  // the server dropped the idle connection: once more, fresh
        default: throw error
        }
      }
    }
    let connection = try openHTTPS(url, caFile: settings.caFile, deadline: connectDeadline)
    let (answer, reusable) = try httpsExchange(
      on: connection, method: method, url, headers: headers, secretHeaders: secretHeaders, body: body, keepAlive: true, deadline: deadline)
    if reusable { pools[index].give(connection) }
    return answer
  }

  /// The error of a refused request. Of a 403: a token the server no longer accepts needs a new login, a
  /// valid token without the capability needs a policy.
  private func describe(_ answer: Answer, method: String, path: String, what: String, tokenRefused: Bool) -> KeyringError {
    let message = answer.json?["errors"]?.array?.compactMap(\.text).joined(separator: "; ") ?? ""
    let address = settings.nodes.map { HTTPSURL(host: $0.host, port: $0.port).hostHeader }.joined(separator: ", ")
    switch (answer.status, Self.nodeState(answer)) {
    case (_, .sealed):
      return .failed("OpenBao at \(address) is sealed — unseal it (bao operator unseal) and try again")
    case (_, .electing):
      return .failed("OpenBao at \(address) has no active node (HTTP \(answer.status)) within \(Int(settings.timeout)) s — the cluster is electing a leader or lost its quorum; try again")
    case (403, _):
      if tokenRefused {
        return .denied("OpenBao refused the token (expired, revoked or missing) — log in again (bao login, or check the AppRole role-id/secret-id files)")
      }
      return .denied("OpenBao: permission denied to \(what) (\(method) /v1/\(path)) — the token's policy lacks that capability")
    case (429, _), (500..<600, _):
      return .failed("OpenBao at \(address) answered HTTP \(answer.status) to \(what)\(message.isEmpty ? "" : ": \(message)") — try again later")
    default:
      return .failed("OpenBao refused to \(what) (HTTP \(answer.status)\(message.isEmpty ? "" : ": \(message)"))")
    }
  }
}

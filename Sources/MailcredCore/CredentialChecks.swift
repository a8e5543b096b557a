#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// The network side of a check, which MailcredNet provides (tests bring a scripted one).
public protocol CheckBackend: Sendable {
  /// One live AUTH; its blocking work stays off the cooperative pool.
  func check(_ job: CheckJob) async -> CheckResult
  /// Verifies an oauth2 grant by refreshing it (forced) through `store`, under the account's write lock:
  /// a revoked grant must show up before the cached access token expires and mail stops.
  func refreshGrant(account: String, store: CredentialStore) async -> Result<OAuthRefresher.Token, OAuthFailure>
  /// Blocking keyring work (recording a result), off the cooperative pool.
  func offload(_ work: @escaping @Sendable () -> Void) async
  /// Seconds on a monotonic clock (latencies of results settled without a connection).
  func monotonicSeconds() -> Double
}

/// Checking credentials: one service behind add, authorize, import, rotate, check and audit.
///
/// A secret not stored yet (`verify`) has each endpoint checked at once; stored credentials (`checkStored`)
/// are all started at once under `limits` — password checks, and each oauth2 grant's refresh followed by
/// its own checks, so a slow token endpoint delays only the credentials that use it — and each result is
/// recorded on its item as soon as its endpoints are done.
public struct CredentialChecks: Sendable {
  /// The store, its calls serialised: refreshes and result records overlap, and the Secret Service
  /// client's per-connection state is not meant for concurrent callers.
  public let store: CredentialStore
  public let backend: any CheckBackend
  public let limits: CheckLimits
  public let now: @Sendable () -> Date

  public init(store: CredentialStore, backend: any CheckBackend, limits: CheckLimits = CheckLimits(), now: @escaping @Sendable () -> Date) {
    self.store = CredentialStore(keyring: SerializedKeyring(store.keyring), locker: store.locker)
    self.backend = backend
    self.limits = limits
    self.now = now
  }

  /// Checks a secret that is not stored yet against every endpoint of `credential` (or only `proto`'s).
  public func verify(_ credential: Credential, secret: SecretBytes, auth: AuthMethod = .password, only proto: MailProtocol? = nil) async
    -> Verification
  {
    let jobs = credential.endpoints(only: proto).map { CheckJob(endpoint: $0, user: credential.user, secret: secret, auth: auth) }
    return Verification(results: await Self.run(jobs, backend: backend, gate: CheckGate(limits)))
  }

  /// Runs `jobs` at once, each admitted by `gate`; results in job order.
  public static func run(_ jobs: [CheckJob], backend: any CheckBackend, gate: CheckGate) async -> [CheckResult] {
    await withTaskGroup(of: (Int, CheckResult).self) { group in
      for (index, job) in jobs.enumerated() {
        group.addTask { (index, await gate.run(key: CheckGate.key(job.endpoint, user: job.user)) { await backend.check(job) }) }
      }
      var results: [(Int, CheckResult)] = []
      for await pair in group { results.append(pair) }
      return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
  }

  /// What `checkStored` found.
  public struct StoredResults: Sendable {
    /// By item id, each in the credential's endpoint order.
    public var results: [String: [CheckResult]]
    /// Things the user should hear although the checks ran (a cached token used, a record not written).
    public var warnings: [Advice]
  }

  /// When results are written onto the checked items.
  public enum Recording: Sendable {
    case never
    case always
    /// Not when the item already holds the same verdict, recorded less than this many seconds ago (every
    /// write makes gnome-keyring re-encrypt and rewrite its whole file).
    case unlessUnchangedWithin(Double)
  }

  /// Checks every current, checkable credential among `entries` (git credentials have no mail endpoint).
  /// Password secrets are read before any connection: a keyring failure stops the checks before they begin,
  /// and a keyring failure while refreshing a grant is thrown once all checks are done.
  public func checkStored(
    _ entries: [CredentialStore.Entry], only proto: MailProtocol? = nil, mechanism: BearerMechanism? = nil,
    recording: Recording, progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
  ) async throws(MailcredError) -> StoredResults {
    let checked = entries.filter {
      $0.credential.state == .current && $0.credential.kind != .git && !$0.credential.endpoints(only: proto).isEmpty
    }
    var passwordJobs: [(item: String, job: CheckJob)] = []
    for entry in checked where entry.credential.kind != .oauth2 {
      let secret = try store.secret(of: entry)
      for endpoint in entry.credential.endpoints(only: proto) {
        passwordJobs.append((entry.item.id, CheckJob(endpoint: endpoint, user: entry.credential.user, secret: secret)))
      }
    }
    let grants = checked.filter { $0.credential.kind == .oauth2 }
    let collector = ResultCollector(checked, only: proto, recording: recording, at: now(), store: store, backend: backend, progress: progress)
    let (gate, backend, store) = (CheckGate(limits), self.backend, self.store)
    await withTaskGroup(of: Void.self) { group in
      for (item, job) in passwordJobs {
        group.addTask { await collector.add(await gate.run(key: CheckGate.key(job.endpoint, user: job.user)) { await backend.check(job) }, item: item) }
      }
      for entry in grants {
        group.addTask {
          let started = backend.monotonicSeconds()
          // The refresh holds one slot of the global bound; its checks then queue like any other.
          let token = await gate.run(key: "oauth2 \(entry.item.id)") { await backend.refreshGrant(account: entry.credential.account, store: store) }
          let endpoints = entry.credential.endpoints(only: proto)
          switch token {
          case .failure(.store(let error)):
            collector.fail(error)
          case .failure(let failure):
            // The grant itself is the result of each endpoint: no access token, nothing to log in with.
            let detail = OAuthCheck.tokenEndpointPrefix + failure.detail
            for endpoint in endpoints {
              let result = CheckResult(endpoint: endpoint, verdict: failure.verdict, detail: detail, latency: backend.monotonicSeconds() - started)
              await collector.add(result, item: entry.item.id)
            }
          case .success(let token):
            if let warning = token.warning { collector.warn(warning) }
            await withTaskGroup(of: Void.self) { checks in
              for endpoint in endpoints {
                let job = CheckJob(endpoint: endpoint, user: entry.credential.user, secret: token.accessToken, auth: .bearer(mechanism))
                checks.addTask { await collector.add(await gate.run(key: CheckGate.key(endpoint, user: job.user)) { await backend.check(job) }, item: entry.item.id) }
              }
            }
          }
        }
      }
    }
    return try collector.finish()
  }
}

extension Credential {
  /// The endpoints a check covers: all, or only one protocol's.
  public func endpoints(only proto: MailProtocol?) -> [Endpoint] {
    endpoints.filter { proto == nil || $0.proto == proto }
  }
}

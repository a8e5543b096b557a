import MailcredCore

/// How live checks run (`--timeout`, `--ca-file`).
public struct CheckOptions: Sendable, Equatable {
  /// Seconds for a whole check: resolving, connecting, TLS and the whole exchange.
  public var timeout: Double
  /// An extra trusted CA (PEM), added to the system trust store.
  public var caFile: String?
  /// Permits `.plain` endpoints, and then only on loopback addresses (a local test server or bridge).
  public var allowPlaintext: Bool

  public init(timeout: Double = 15, caFile: String? = nil, allowPlaintext: Bool = false) {
    self.timeout = timeout
    self.caFile = caFile
    self.allowPlaintext = allowPlaintext
  }
}

/// Authenticates `user` with `secret` at `endpoint` and classifies the answer. Never throws: every failure
/// is a class with the server's or the system's words in `detail`. The secret is not wiped (the caller
/// owns it); what is built from it is.
public func checkCredential(endpoint: Endpoint, user: String, secret: SecretBytes, options: CheckOptions, auth: AuthMethod = .password) async
  -> CheckResult
{
  await onDedicatedThread {
    runCheck(endpoint: endpoint, user: user, secret: secret, options: options, auth: auth)
  }
}

/// The same, blocking the calling thread (for synchronous commands such as `add`).
public func checkCredentialBlocking(endpoint: Endpoint, user: String, secret: SecretBytes, options: CheckOptions, auth: AuthMethod = .password)
  -> CheckResult
{
  onJoinedThread {
    runCheck(endpoint: endpoint, user: user, secret: secret, options: options, auth: auth)
  }
}

/// Runs `jobs` with at most `concurrency` checks in flight, each on its own thread; results in job order.
/// `finished` is told each result (with its job's index) as it arrives, and `progress` how many checks have
/// finished; both are called one at a time, never concurrently.
public func checkAll(
  _ jobs: [CheckJob], concurrency: Int, options: CheckOptions,
  finished: (@Sendable (Int, CheckResult) -> Void)? = nil, progress: (@Sendable (Int) -> Void)? = nil
) async -> [CheckResult] {
  guard !jobs.isEmpty else { return [] }
  let width = max(1, concurrency)
  return await withTaskGroup(of: (Int, CheckResult).self) { group in
    var results = [CheckResult?](repeating: nil, count: jobs.count)
    var next = 0
    func start(_ index: Int, in group: inout TaskGroup<(Int, CheckResult)>) {
      let job = jobs[index]
      group.addTask {
        let result = await onDedicatedThread {
          runCheck(endpoint: job.endpoint, user: job.user, secret: job.secret, options: options, auth: job.auth)
        }
        return (index, result)
      }
    }
    while next < min(width, jobs.count) {
      start(next, in: &group)
      next += 1
    }
    var done = 0
    for await (index, result) in group {
      results[index] = result
      done += 1
      finished?(index, result)
      progress?(done)
      if next < jobs.count {
        start(next, in: &group)
        next += 1
      }
    }
    return results.map { $0! }
  }
}

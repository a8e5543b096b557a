#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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

/// Runs `jobs` with at most `concurrency` checks in flight (CredentialChecks' own runner over the live
/// network); results in job order.
public func checkAll(_ jobs: [CheckJob], concurrency: Int, options: CheckOptions) async -> [CheckResult] {
  let limits = CheckLimits(total: concurrency, perMailbox: concurrency)
  return await CredentialChecks.run(jobs, backend: LiveChecks(options: options, now: { Date() }), gate: CheckGate(limits))
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MailcredCore
import MailcredSystem

/// The real network behind `CredentialChecks`: each check and each grant refresh on a thread of its own
/// (they block in poll()), OpenSSL for TLS, the token endpoint over HTTPS.
public struct LiveChecks: CheckBackend {
  public let options: CheckOptions
  let tokens: any OAuthTransport
  let now: @Sendable () -> Date

  /// `options.caFile` is also trusted for token endpoints that have no `ca-file` of their own.
  public init(options: CheckOptions, now: @escaping @Sendable () -> Date) {
    self.options = options
    tokens = CAFallbackTransport(base: HTTPSTransport(timeout: options.timeout), caFile: options.caFile)
    self.now = now
  }

  public func check(_ job: CheckJob) async -> CheckResult {
    let options = self.options
    return await onDedicatedThread {
      runCheck(endpoint: job.endpoint, user: job.user, secret: job.secret, options: options, auth: job.auth)
    }
  }

  public func refreshGrant(account: String, store: CredentialStore) async -> Result<OAuthRefresher.Token, OAuthFailure> {
    let refresher = OAuthRefresher(store: store, transport: tokens, now: now)
    return await onDedicatedThread { Result { () throws(OAuthFailure) in try refresher.accessToken(account: account, force: true) } }
  }

  public func offload(_ work: @escaping @Sendable () -> Void) async { await onDedicatedThread(work) }

  public func monotonicSeconds() -> Double { MailcredSystem.monotonicSeconds() }
}

/// The token endpoint's own CA (`ca-file` attribute) when the credential has one, else the command's
/// `--ca-file`.
public struct CAFallbackTransport: OAuthTransport {
  public let base: HTTPSTransport
  public let caFile: String?

  public init(base: HTTPSTransport, caFile: String?) {
    self.base = base
    self.caFile = caFile
  }

  public func post(_ url: HTTPSURL, form: SecretBytes, caFile stored: String?) throws(TransportFailure) -> HTTPAnswer {
    try base.post(url, form: form, caFile: stored ?? caFile)
  }
}

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import MailcredCore
import MailcredNet

// What `get`, `check`, `audit` and the git helper share for oauth2 credentials: a refresher wired to the
// OpenSSL transport (the store brings the account's write lock).

/// Seconds a token endpoint gets at `get` time (msmtp and mbsync wait for us meanwhile).
let tokenEndpointTimeout: Double = 15

func makeRefresher(store: CredentialStore, timeout: Double = tokenEndpointTimeout, extraCAFile: String? = nil) -> OAuthRefresher {
  OAuthRefresher(
    store: store, transport: CAFallbackTransport(base: HTTPSTransport(timeout: timeout), caFile: extraCAFile),
    now: { now() })
}

/// `get` of an oauth2 credential: the access token on stdout (refreshed when it expires within 5 minutes).
func printAccessToken(account: String, stored: SecretBytes, store: CredentialStore) -> Int32 {
  defer { stored.wipe() }
  switch makeRefresher(store: store).accessToken(account: account, stored: stored) {
  case .success(let token):
    if let warning = token.warning { warn(warning) }
    defer { token.accessToken.wipe() }
    guard Terminal.writeSecretLine(token.accessToken) else {
      return fail(.configuration("cannot write to standard output")).rawValue
    }
    return 0
  case .failure(let failure):
    Terminal.writeError("mailcred: \(failure.message(account: account))")
    return failure.exitStatus.rawValue
  }
}

/// The token endpoint's own CA (`ca-file` attribute) when the credential has one, else the command's
/// `--ca-file`.
struct CAFallbackTransport: OAuthTransport {
  let base: HTTPSTransport
  let caFile: String?

  func post(_ url: HTTPSURL, form: SecretBytes, caFile stored: String?) -> Result<HTTPAnswer, TransportFailure> {
    base.post(url, form: form, caFile: stored ?? caFile)
  }
}

// MARK: Checks

/// The jobs for checking `entries`, plus the results already settled before any connection: an oauth2
/// credential whose access token could not be had (revoked grant, unreachable token endpoint) gets that
/// result for each of its endpoints. Password credentials are read as before.
struct PreparedChecks<Owner> {
  var jobs: [CheckJob] = []
  var owners: [Owner] = []
  var settled: [(Owner, CheckResult)] = []

  /// Every result with its owner: the checks' (in job order), then the settled ones.
  func owned(_ results: [CheckResult]) -> [(Owner, CheckResult)] { Array(zip(owners, results)) + settled }
}

func prepareChecks<Owner>(
  _ entries: [(Owner, CredentialStore.Entry)], store: CredentialStore, live: LiveCheckOptions, proto: MailProtocol?,
  mechanism: BearerMechanism? = nil
) throws(ExitCode) -> PreparedChecks<Owner> {
  var prepared = PreparedChecks<Owner>()
  for (owner, entry) in entries {
    let endpoints = entry.credential.endpoints.filter { proto == nil || $0.proto == proto }
    guard entry.credential.kind == .oauth2 else {
      let secret = try reporting { () throws(MailcredError) in try store.secret(of: entry) }
      for endpoint in endpoints {
        prepared.jobs.append(CheckJob(endpoint: endpoint, user: entry.credential.user, secret: secret))
        prepared.owners.append(owner)
      }
      continue
    }
    guard !endpoints.isEmpty else { continue }
    let started = monotonicNow()
    let refresher = makeRefresher(store: store, timeout: live.timeout, extraCAFile: live.caFile)
    switch refresher.accessToken(account: entry.credential.account, force: true) {
    case .success(let token):
      if let warning = token.warning { warn(warning) }
      for endpoint in endpoints {
        prepared.jobs.append(CheckJob(endpoint: endpoint, user: entry.credential.user, secret: token.accessToken, auth: .bearer(mechanism)))
        prepared.owners.append(owner)
      }
    case .failure(let failure):
      if case .store(let error) = failure { throw fail(error) }
      let detail = OAuthCheck.tokenEndpointPrefix + failure.description
      for endpoint in endpoints {
        prepared.settled.append((owner, CheckResult(endpoint: endpoint, verdict: failure.verdict, detail: detail, latency: monotonicNow() - started)))
      }
    }
  }
  return prepared
}

func monotonicNow() -> Double {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

extension BearerMechanism: ExpressibleByArgument {
  public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
  public var defaultValueDescription: String { rawValue.lowercased() }
  public static var allValueStrings: [String] { allCases.map { $0.rawValue.lowercased() } }
}

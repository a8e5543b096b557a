#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import MailcredCore
import MailcredNet

// What `get`, `check`, `audit` and the git helper share for oauth2 credentials: a refresher wired to the
// OpenSSL transport and a per-account lock file.

/// Seconds a token endpoint gets at `get` time (msmtp and mbsync wait for us meanwhile).
let tokenEndpointTimeout: Double = 15

func makeRefresher(store: CredentialStore, timeout: Double = tokenEndpointTimeout, extraCAFile: String? = nil) -> OAuthRefresher {
  OAuthRefresher(
    store: store, transport: CAFallbackTransport(base: HTTPSTransport(timeout: timeout), caFile: extraCAFile),
    lock: { account throws(MailcredError) in try RefreshLock.acquire(account: account, timeout: 2 * timeout + 5) },
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

/// Serialises refreshes of one account across processes: `flock` on
/// `$XDG_RUNTIME_DIR/mailcred/refresh-ACCOUNT.lock` (or `/tmp/mailcred-UID/` without XDG_RUNTIME_DIR). The
/// lock goes with the process, so a killed refresher never leaves it held.
enum RefreshLock {
  static func acquire(account: String, timeout: Double) throws(MailcredError) -> OAuthRefresher.Unlock {
    let directory = try lockDirectory()
    let path = "\(directory)/refresh-\(account).lock"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { throw .configuration("cannot open the refresh lock \(path): \(String(cString: strerror(errno)))") }
    let started = monotonic()
    while flock(fd, LOCK_EX | LOCK_NB) != 0 {
      guard errno == EWOULDBLOCK || errno == EINTR else {
        let why = String(cString: strerror(errno))
        close(fd)
        throw .configuration("cannot lock \(path): \(why)")
      }
      if monotonic() - started > timeout {
        close(fd)
        throw .conflict("another mailcred has been refreshing the token of \(account) for \(Int(timeout)) s; try again", .temporaryFailure)
      }
      usleep(5_000)
    }
    return {
      flock(fd, LOCK_UN)
      close(fd)
    }
  }

  /// A directory only we can write to. XDG_RUNTIME_DIR is private by specification; the /tmp fallback is
  /// created 0700 and checked (owner, mode, not a symlink), since anyone can create names in /tmp.
  private static func lockDirectory() throws(MailcredError) -> String {
    let base = getenv("XDG_RUNTIME_DIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    let directory = base.map { "\($0)/mailcred" } ?? "/tmp/mailcred-\(getuid())"
    if mkdir(directory, 0o700) != 0 && errno != EEXIST {
      throw .configuration("cannot create \(directory): \(String(cString: strerror(errno)))")
    }
    var info = stat()
    guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
      info.st_mode & 0o077 == 0
    else { throw .configuration("\(directory) is not a private directory of this user: refusing to put a lock file there") }
    return directory
  }

  private static func monotonic() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
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

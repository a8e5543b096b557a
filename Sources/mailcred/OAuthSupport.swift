import ArgumentParser
import MailcredCore
import MailcredSpelling
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
  do throws(OAuthFailure) {
    let token = try makeRefresher(store: store).accessToken(account: account, stored: stored)
    if let warning = token.warning { warn(warning) }
    defer { token.accessToken.wipe() }
    guard Terminal.writeSecretLine(token.accessToken) else { return report(cannotWriteOutput)! }
    return 0
  } catch {
    return report(MailcredError.oauth(error, account: account))!
  }
}

extension BearerMechanism: ExpressibleByArgument {
  public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
  public var defaultValueDescription: String { rawValue.lowercased() }
  public static var allValueStrings: [String] { allCases.map { $0.rawValue.lowercased() } }
}

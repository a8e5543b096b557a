#if canImport(Glibc)
import Glibc
#endif
import MailcredCore
import MailcredSpelling
import MailcredKeyring
import MailcredNet

/// What commands share: the keyring in use. Passed in, never a global, so tests can swap it.
struct Environment {
  var store: CredentialStore

  /// `--no-unlock` (any command) sets this before the command runs.
  nonisolated(unsafe) static var noUnlock = false

  static func live() -> Environment {
    var policy = UnlockPolicy.from { name in getenv(name).map { String(cString: $0) } }
    if noUnlock { policy.canPrompt = false }
    // The store: MAILCRED_STORE or $XDG_CONFIG_HOME/mailcred/config (one failed open when absent, so
    // `get` on the Secret Service stays as fast as before).
    switch Result(catching: { () throws(KeyringError) in try StoreConfiguration.live() }) {
    case .success(.secretService):
      break
    case .success(.openBao(let settings)):
      let keyring = OpenBaoKeyring(settings: settings)
      let locker = OpenBaoAccountLock.locker(keyring, local: AccountFileLock.locker, timeout: AccountFileLock.timeout)
      return Environment(store: CredentialStore(keyring: keyring, locker: locker))
    case .failure(let error):
      return Environment(store: CredentialStore(keyring: MisconfiguredKeyring(error: error)))
    }
    return Environment(
      store: CredentialStore(keyring: SecretServiceKeyring(unlock: policy), locker: AccountFileLock.locker))
  }
}

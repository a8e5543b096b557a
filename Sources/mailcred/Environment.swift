#if canImport(Glibc)
import Glibc
#endif
import MailcredCore
import MailcredKeyring

/// What commands share: the keyring in use. Passed in, never a global, so tests can swap it.
struct Environment {
  var store: CredentialStore

  /// `--no-unlock` (any command) sets this before the command runs.
  nonisolated(unsafe) static var noUnlock = false

  static func live() -> Environment {
    var policy = UnlockPolicy.from { name in getenv(name).map { String(cString: $0) } }
    if noUnlock { policy.canPrompt = false }
    return Environment(
      store: CredentialStore(keyring: SecretServiceKeyring(unlock: policy), locker: AccountFileLock.locker))
  }
}

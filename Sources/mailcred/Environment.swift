import MailcredCore
import MailcredKeyring

/// What commands share: the keyring in use. Passed in, never a global, so tests can swap it.
struct Environment {
  var store: CredentialStore

  static func live() -> Environment {
    Environment(store: CredentialStore(keyring: SecretServiceKeyring()))
  }
}

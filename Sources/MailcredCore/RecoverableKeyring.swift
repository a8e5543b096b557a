/// A keyring whose deletes are recoverable: OpenBao's KV v2 keeps a deleted item's version (a soft
/// delete) until it is destroyed. `restore` uses it to bring back a secret that `remove`, `add --replace`
/// or `rotate` deleted; the Secret Service has no such history.
public protocol RecoverableKeyring: Keyring {
  /// The deleted items of one account, most recently deleted first.
  func deleted(account: String) throws(KeyringError) -> [KeyringItem]
  /// Brings back a deleted item; `search` finds it again, with the attributes it had.
  @discardableResult
  func undelete(_ item: KeyringItem) throws(KeyringError) -> KeyringItem
}

extension CredentialStore {
  /// `restore --previous`: the most recently deleted secret that was current (the one `add --replace` or
  /// `rotate` superseded, or the one `remove` took) becomes current again, and the present current item is
  /// deleted (recoverably, so a second `restore --previous` swaps back). The restored item is current
  /// before the other goes: the account is never without a working secret.
  public func restorePrevious(account: String) throws(MailcredError) -> Credential {
    try writing(account: account) { () throws(MailcredError) in
      guard let keyring = keyring as? any RecoverableKeyring else { throw .noHistory(account) }
      guard let item = try wrap({ () throws(KeyringError) in try keyring.deleted(account: account) })
        .first(where: { $0.attributes["state"] == CredentialState.current.rawValue }),
        let credential = Credential(attributes: item.attributes)
      else { throw .noEarlierSecret(account) }
      let present = try entries(account: account).filter { $0.credential.state == .current }
      let restored = try wrap { () throws(KeyringError) in try keyring.undelete(item) }
      for entry in present where entry.item.id != restored.id {
        try wrap { () throws(KeyringError) in try keyring.delete(entry.item) }
      }
      return credential
    }
  }

  /// `restore` of an account with neither a current nor an erased item (after `remove`) on a recoverable
  /// keyring: the most recently deleted current secret; nil when there is none (or no history).
  func restoreRemoved(account: String) throws(MailcredError) -> Credential? {
    guard let keyring = keyring as? any RecoverableKeyring else { return nil }
    guard let item = try wrap({ () throws(KeyringError) in try keyring.deleted(account: account) })
      .first(where: { $0.attributes["state"] == CredentialState.current.rawValue }),
      let credential = Credential(attributes: item.attributes)
    else { return nil }
    try wrap { () throws(KeyringError) in _ = try keyring.undelete(item) }
    return credential
  }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The store operations the git helper needs beyond `add`/`erase`, built from the store's public calls.
extension CredentialStore {
  /// Every current `git` kind credential, newest first (the one git stored last answers first).
  /// The keyring matches the kind itself, so the helper's `get` reads the attributes of git credentials
  /// only, not of every mail account. (Not the state: an item without one is current.)
  func currentGitEntries() throws(MailcredError) -> [Entry] {
    let items = try wrap { () throws(KeyringError) in try keyring.search(["kind": CredentialKind.git.rawValue]) }
    return items.compactMap { item in Credential(attributes: item.attributes).map { Entry(credential: $0, item: item) } }
      .filter { $0.credential.kind == .git && $0.credential.state == .current }
      .sorted { $0.credential.created > $1.credential.created }
  }

  /// Writes a git credential, then deletes the item it replaces. Not through `add`: git may store an
  /// empty username (an SSO host), which no mail account may have.
  func putGit(_ credential: Credential, secret: SecretBytes, replacing old: Entry?) throws(MailcredError) {
    try writing(account: credential.account) { () throws(MailcredError) in
      let made = try wrap { () throws(KeyringError) in
        try keyring.create(attributes: credential.attributes, label: credential.label, secret: secret)
      }
      // The new item is there: the one it replaces goes, by identity.
      if let old, old.item.id != made.id {
        try wrap { () throws(KeyringError) in try keyring.delete(old.item) }
      }
    }
  }

  /// Deletes one item because deleting it is the request (git's erase of a git credential the server
  /// just refused): unlike `delete`, it may be the account's last current item.
  func discard(_ entry: Entry) throws(MailcredError) {
    try writing(account: entry.credential.account) { () throws(MailcredError) in
      try wrap { () throws(KeyringError) in try keyring.delete(entry.item) }
    }
  }

  /// git's erase of a mail account: the item becomes `erased` with the date (list/show say when), and
  /// `mailcred restore` brings it back. An older erased copy goes, so restore is never ambiguous.
  func eraseRecoverably(_ entry: Entry, at date: Date) throws(MailcredError) {
    try writing(account: entry.credential.account) { () throws(MailcredError) in
      let now = try entries(account: entry.credential.account)
      // Read before the lock: if another writer replaced it meanwhile, git's verdict was about a secret
      // that is gone, and the new one is left alone.
      guard let same = now.first(where: { $0.item.id == entry.item.id }), same.credential.state == .current else {
        throw .keyring(.itemVanished)
      }
      for stale in now where stale.credential.state == .erased { try delete(stale) }
      var credential = same.credential
      credential.state = .erased
      credential.erasedAt = date
      try update(same, to: credential)
    }
  }
}

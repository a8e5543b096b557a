#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The store operations the git helper needs beyond `add`/`erase`, built from the store's public calls.
extension CredentialStore {
  /// Every current `git` kind credential, newest first (the one git stored last answers first).
  func currentGitEntries() throws(MailcredError) -> [Entry] {
    try all().filter { $0.credential.kind == .git && $0.credential.state == .current }
      .sorted { $0.credential.created > $1.credential.created }
  }

  /// Writes a git credential, then deletes the item it replaces. Not through `add`: git may store an
  /// empty username (an SSO host), which no mail account may have.
  func putGit(_ credential: Credential, secret: SecretBytes, replacing old: Entry?) throws(MailcredError) {
    do { try validateAccountName(credential.account) } catch { throw .input(error) }
    try wrap { () throws(KeyringError) in
      try keyring.create(attributes: credential.attributes, label: credential.label, secret: secret)
    }
    // Identical attributes: the Secret Service replaced the old item in place; it is the new one.
    if let old, old.item.attributes != credential.attributes { try delete(old) }
  }

  /// git's erase of a mail account: the item becomes `erased` with the date (list/show say when), and
  /// `mailcred restore` brings it back. An older erased copy goes, so restore is never ambiguous.
  func eraseRecoverably(_ entry: Entry, at date: Date) throws(MailcredError) {
    for stale in try entries(account: entry.credential.account) where stale.credential.state == .erased {
      try delete(stale)
    }
    var credential = entry.credential
    credential.state = .erased
    credential.erasedAt = date
    try update(entry, to: credential)
  }
}

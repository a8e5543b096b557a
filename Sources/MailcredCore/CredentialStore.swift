#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// mailcred's rules on top of a keyring: one `current` item per account, never deleting a working secret
/// before its replacement is stored, one writer per account at a time.
///
/// Every write sequence runs inside `writing(account:)`, which holds the account's lock (the CLI's is a
/// `flock` shared by every mailcred process); readers never take it. Sequences nest: a write inside a
/// sequence that already holds the account's lock does not take it again.
public struct CredentialStore: Sendable {
  public let keyring: any Keyring
  public let locker: AccountLocker

  public init(keyring: any Keyring, locker: AccountLocker = .none) {
    self.keyring = keyring
    self.locker = locker
  }

  /// A credential as stored, with the keyring item it came from.
  public struct Entry: Sendable {
    public var credential: Credential
    public var item: KeyringItem
  }

  // MARK: Reading

  /// Every mailcred credential, all states, sorted by account then state.
  public func all() throws(MailcredError) -> [Entry] {
    let items = try wrap { () throws(KeyringError) in try keyring.search([:]) }
    return items.compactMap { item in
      Credential(attributes: item.attributes).map { Entry(credential: $0, item: item) }
    }.sorted {
      ($0.credential.account, $0.credential.state.sortKey, $1.credential.created)
        < ($1.credential.account, $1.credential.state.sortKey, $0.credential.created)
    }
  }

  /// Every item of one account, newest first within each state.
  public func entries(account: String) throws(MailcredError) -> [Entry] {
    try requireValidName(account)
    let items = try wrap { () throws(KeyringError) in try keyring.search(["account": account]) }
    return items.compactMap { item in
      Credential(attributes: item.attributes).map { Entry(credential: $0, item: item) }
    }.sorted { $0.credential.created > $1.credential.created }
  }

  /// The current credential of an account. When a crash left two current items (see rotation), the newest
  /// wins: both were verified, and the newer one is what the user wanted.
  public func current(account: String) throws(MailcredError) -> Entry {
    let found = try entries(account: account)
    if let entry = found.first(where: { $0.credential.state == .current }) {
      if entry.item.locked { throw .keyring(.locked) }
      return entry
    }
    throw describeMissing(account: account, found: found)
  }

  /// The secret `get` prints: only a `current` item's.
  public func secret(account: String) throws(MailcredError) -> SecretBytes {
    try requireValidName(account)
    let secret = try wrap { () throws(KeyringError) in
      try keyring.lookup(["account": account, "state": CredentialState.current.rawValue])
    }
    if let secret { return secret }
    let found = try entries(account: account)
    // Another program made a current item between the lookup and this read (a restore, a replace):
    // that one is the answer, not "no such account".
    if let appeared = found.first(where: { $0.credential.state == .current && !$0.item.locked }) {
      do throws(MailcredError) { return try self.secret(of: appeared) } catch {
        if case .keyring(.itemVanished) = error {} else { throw error }
      }
    }
    throw describeMissing(account: account, found: found)
  }

  public func secret(of entry: Entry) throws(MailcredError) -> SecretBytes {
    try wrap { () throws(KeyringError) in try keyring.secret(of: entry.item) }
  }

  // MARK: Writing

  /// Stores a new credential. Refuses an existing account unless `replace`; when replacing, the new item
  /// is written before the old ones are deleted, so a failure in between leaves the old secret in place.
  public func add(_ credential: Credential, secret: SecretBytes, replace: Bool) throws(MailcredError) {
    try validateAccountName(credential.account, user: credential.user)
    try writing(account: credential.account) { () throws(MailcredError) in
      let old = try entries(account: credential.account)
      if !old.isEmpty && !replace { throw .accountExists(credential.account) }
      let made = try wrap { () throws(KeyringError) in
        try keyring.create(attributes: credential.attributes, label: credential.label, secret: secret)
      }
      // What the new item supersedes, by identity (never by comparing attributes: a Secret Service may add
      // its own, and an identical older item must go too).
      for entry in old where entry.item.id != made.id {
        if entry.credential.state == credential.state || credential.state == .current {
          try wrap { () throws(KeyringError) in try keyring.delete(entry.item) }
        }
      }
    }
  }

  /// Writes new metadata (check result, expiry, ...) onto an existing item, keeping its secret.
  @discardableResult
  public func update(_ entry: Entry, to credential: Credential) throws(MailcredError) -> Entry {
    try writing(account: entry.credential.account) { () throws(MailcredError) in
      let item = try wrap { () throws(KeyringError) in
        try keyring.update(entry.item, attributes: credential.attributes, label: credential.label)
      }
      return Entry(credential: credential, item: item)
    }
  }

  /// Records the outcome of a live check (`checked`, `check-result`, and `refreshed` for a grant) on the
  /// item that was checked. An oauth2 check refreshes the grant first, which rewrites the item: the same
  /// secret generation (state and `created` kept by a refresh) still takes the result. When the account was
  /// written otherwise meanwhile (replaced, rotated, erased), the result belongs to a secret that is no
  /// longer there: it is dropped, and the newer item is left alone. Returns whether it was recorded.
  @discardableResult
  public func record(_ entry: Entry, as checked: Credential) throws(MailcredError) -> Bool {
    try writing(account: entry.credential.account) { () throws(MailcredError) in
      let now = try entries(account: entry.credential.account)
      let sameGeneration = { (candidate: Entry) in
        candidate.credential.kind == .oauth2 && candidate.credential.state == entry.credential.state
          && candidate.credential.created == entry.credential.created
      }
      guard let target = now.first(where: { $0.item.id == entry.item.id }) ?? now.first(where: sameGeneration),
        target.credential.state == entry.credential.state
      else { return false }
      var credential = target.credential
      credential.checked = checked.checked
      credential.checkResult = checked.checkResult
      if let refreshed = checked.refreshed, credential.refreshed.map({ $0 < refreshed }) ?? true {
        credential.refreshed = refreshed
      }
      do throws(MailcredError) {
        try update(target, to: credential)
      } catch {
        if case .keyring(.itemVanished) = error { return false }
        throw error
      }
      return true
    }
  }

  /// Deletes every item of an account (current, pending and erased). Returns how many.
  @discardableResult
  public func remove(account: String) throws(MailcredError) -> Int {
    try writing(account: account) { () throws(MailcredError) in
      let found = try entries(account: account)
      if found.isEmpty { throw .noSuchAccount(account) }
      for entry in found {
        try wrap { () throws(KeyringError) in try keyring.delete(entry.item) }
      }
      return found.count
    }
  }

  /// Deletes one item. A `current` item goes only while another current item of the account remains
  /// (the newer one of a rotation): no path but `remove` deletes an account's last working secret.
  public func delete(_ entry: Entry) throws(MailcredError) {
    try writing(account: entry.credential.account) { () throws(MailcredError) in
      if entry.credential.state == .current {
        let others = try entries(account: entry.credential.account).filter {
          $0.credential.state == .current && $0.item.id != entry.item.id
        }
        if others.isEmpty { throw .lastCurrent(entry.credential.account) }
      }
      try wrap { () throws(KeyringError) in try keyring.delete(entry.item) }
    }
  }

  /// Marks the current item `erased` (git's erase): `get` stops returning it, `restore` brings it back.
  public func erase(_ entry: Entry) throws(MailcredError) {
    try writing(account: entry.credential.account) { () throws(MailcredError) in
      // An older erased copy of the same account would make `restore` ambiguous: the newest erase wins.
      for stale in try entries(account: entry.credential.account) where stale.credential.state == .erased {
        try delete(stale)
      }
      var credential = entry.credential
      credential.state = .erased
      try update(entry, to: credential)
    }
  }

  /// Brings back the newest erased item of an account as current (git's erase), or, on a store that keeps
  /// deleted versions and with nothing erased, the current secret `remove` deleted.
  public func restore(account: String) throws(MailcredError) -> Credential {
    try writing(account: account) { () throws(MailcredError) in try restoreLocked(account: account) }
  }

  private func restoreLocked(account: String) throws(MailcredError) -> Credential {
    let found = try entries(account: account)
    if found.contains(where: { $0.credential.state == .current }) {
      throw .restoreOverCurrent(account)
    }
    guard let erased = found.first(where: { $0.credential.state == .erased }) else {
      // After `remove` on a store that keeps deleted versions (OpenBao): the secret it took.
      if let removed = try restoreRemoved(account: account) { return removed }
      if found.isEmpty { throw .noSuchAccount(account) }
      throw .nothingErased(account)
    }
    var credential = erased.credential
    credential.state = .current
    try update(erased, to: credential)
    return credential
  }

  // MARK: Internals

  /// A name no `add` could have stored is bad input (65), not a missing account (67).
  private func requireValidName(_ account: String) throws(MailcredError) {
    do { try MailcredCore.validateAccountName(account) } catch { throw .input(error) }
  }

  private func validateAccountName(_ account: String, user: String) throws(MailcredError) {
    do {
      try MailcredCore.validateAccountName(account)
      try validateUserName(user)
    } catch { throw .input(error) }
  }

  private func describeMissing(account: String, found: [Entry]) -> MailcredError {
    if found.contains(where: \.item.locked) { return .keyring(.locked) }
    if found.contains(where: { $0.credential.state == .pending }) {
      return .onlyPending(account)
    }
    if found.contains(where: { $0.credential.state == .erased }) {
      return .erasedByGit(account)
    }
    return .noSuchAccount(account)
  }
}

extension CredentialState {
  var sortKey: Int {
    switch self {
    case .current: return 0
    case .pending: return 1
    case .erased: return 2
    }
  }
}

/// Runs a keyring call, wrapping its error into MailcredError.
func wrap<T>(_ body: () throws(KeyringError) -> T) throws(MailcredError) -> T {
  do { return try body() } catch { throw .keyring(error) }
}

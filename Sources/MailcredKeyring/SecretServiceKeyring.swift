import CGLib
import MailcredCore
import Synchronization

/// The Secret Service (gnome-keyring, KeePassXC, ...): the implementation of `Keyring` that touches a real
/// keyring, entirely over D-Bus (`SecretServiceBus`), every call and every prompt with a deadline.
///
/// Locked: what a call needs is unlocked through the Secret Service's own prompt when `unlock` allows a
/// prompt (a display is there), and is `.locked` at once otherwise. A locked KeePassXC database hides its
/// items from `SearchItems`, so an empty search is "nothing stored" only once no collection is locked.
///
/// Only mailcred's own schema attributes are read back: a Secret Service may add its own (KeePassXC adds
/// Title, UserName, URL, Notes, Path, Uuid; libsecret adds `xdg:schema`).
public final class SecretServiceKeyring: Keyring, @unchecked Sendable {
  /// The attribute the Secret Service stores the schema name in.
  private static let schemaAttribute = "xdg:schema"

  let address: String?
  let unlockPolicy: UnlockPolicy
  private let connection = Mutex<SecretServiceBus?>(nil)
  /// The GLib-free client for the common reads (see `viaDirect`).
  let directClient = Mutex<DirectClientState>(.untried)

  /// `busAddress` nil is the session bus. `unlock` says whether a prompt may be shown, and how long to wait.
  public init(busAddress: String? = nil, unlock: UnlockPolicy = .never) {
    self.address = busAddress
    self.unlockPolicy = unlock
  }

  // MARK: Keyring

  public func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes? {
    try SchemaAttribute.validate(query)
    let scopedQuery = scoped(query)
    if let secret = try viaDirect({ client throws(DirectFailure) in try client.lookup(scopedQuery) }) { return secret }
    let bus = try self.bus()
    var found = try bus.searchItems(scoped(query))
    if found.unlocked.isEmpty {
      let locked = found.locked.isEmpty ? try lockedCollections(bus) : found.locked
      if locked.isEmpty { return nil }
      try unlock(locked, bus)
      found = try bus.searchItems(scoped(query))
      if found.unlocked.isEmpty {
        if !found.locked.isEmpty { throw .locked }
        return nil
      }
    }
    var chosen = found.unlocked[0]
    if found.unlocked.count > 1 {
      // Two matches (an interrupted rotation left two current items): the newest is the one wanted.
      let attributes = try bus.attributes(of: found.unlocked)
      chosen = found.unlocked.max { (attributes[$0]?["created"] ?? "") < (attributes[$1]?["created"] ?? "") } ?? chosen
    }
    guard let secret = try bus.secrets(of: [chosen])[chosen] else { throw .itemVanished }
    return secret
  }

  public func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    try SchemaAttribute.validate(query)
    if let items = try directSearch(scoped(query)) { return items }
    let bus = try self.bus()
    var found = try bus.searchItems(scoped(query))
    if found.unlocked.isEmpty && found.locked.isEmpty {
      let locked = try lockedCollections(bus)
      if !locked.isEmpty {
        // Never an empty list for a store that is merely locked.
        try unlock(locked, bus)
        found = try bus.searchItems(scoped(query))
      }
    } else if !found.locked.isEmpty && unlockPolicy.canPrompt {
      try unlock(found.locked, bus)
      found = try bus.searchItems(scoped(query))
    }
    let attributes = try bus.attributes(of: found.unlocked + found.locked)
    let locked = Set(found.locked)
    return (found.unlocked + found.locked).compactMap { path in
      guard let values = attributes[path] else { return nil }  // deleted meanwhile
      return KeyringItem(id: path, attributes: ownAttributes(values), locked: locked.contains(path))
    }
  }

  public func searchForeign(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    guard !query.contains(where: { $0.key.utf8.contains(0) || $0.value.utf8.contains(0) }) else {
      throw .invalidAttribute("NUL in a search attribute")
    }
    let bus = try self.bus()
    var found = try bus.searchItems(query)
    if found.unlocked.isEmpty && found.locked.isEmpty {
      let locked = try lockedCollections(bus)
      if !locked.isEmpty {
        try unlock(locked, bus)
        found = try bus.searchItems(query)
      }
    } else if !found.locked.isEmpty {
      try unlock(found.locked, bus)
      found = try bus.searchItems(query)
    }
    let attributes = try bus.attributes(of: found.unlocked + found.locked)
    let locked = Set(found.locked)
    return (found.unlocked + found.locked).compactMap { path in
      // mailcred's own items carry msmtp's host/service/user too: they are not another program's.
      guard let values = attributes[path], values[Self.schemaAttribute] != SchemaAttribute.schemaName else { return nil }
      return KeyringItem(id: path, attributes: values, locked: locked.contains(path))
    }
  }

  public func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes {
    if !item.locked, let secret = try directSecret(of: item.id) { return secret }
    let bus = try self.bus()
    if item.locked { try unlock([item.id], bus) }
    guard let secret = try retryingUnlocked(bus, [item.id], { () throws(KeyringError) in try bus.secrets(of: [item.id]) })[item.id]
    else { throw .itemVanished }
    return secret
  }

  @discardableResult
  public func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) -> KeyringItem {
    try SchemaAttribute.validate(attributes)
    guard !secret.contains(0) else { throw .invalidAttribute("a secret may not contain NUL") }
    let bus = try self.bus()
    guard let collection = try bus.defaultCollection() else {
      throw .failed("the keyring has no default collection — create one (e.g. with seahorse) and retry")
    }
    if try bus.isLocked(collection: collection) { try unlock([collection], bus) }
    var (path, prompt) = try retryingUnlocked(bus, [collection]) { () throws(KeyringError) in
      try bus.createItem(in: collection, attributes: scoped(attributes), label: label, secret: secret)
    }
    if path == "/" {
      // KeePassXC answers every CreateItem with a prompt (one that needs nobody unless it confirms access).
      let outcome = try bus.runPrompt(prompt, timeout: promptTimeout)
      guard !outcome.dismissed, let made = outcome.paths.first else {
        throw .failed("the keyring's prompt to store the item was dismissed: nothing stored")
      }
      path = made
    }
    return KeyringItem(id: path, attributes: attributes, locked: false)
  }

  @discardableResult
  public func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError) -> KeyringItem {
    try SchemaAttribute.validate(attributes)
    // Every property write makes gnome-keyring rewrite its whole file (~12 ms at 100 items): recording a
    // check result must not pay twice. mailcred derives the label from account, kind and user, so the same
    // label from the old attributes means the label is already right.
    let unchanged = Credential(attributes: item.attributes)?.label == label
    let dropped = Set(item.attributes.keys).subtracting(attributes.keys)
    // Recording a check result (`check`): one property write, without loading GLib.
    if !item.locked && unchanged && dropped.isEmpty, try directSetAttributes(of: item.id, scoped(attributes)) {
      return KeyringItem(id: item.id, attributes: attributes, locked: false)
    }
    let bus = try self.bus()
    if item.locked { try unlock([item.id], bus) }
    try retryingUnlocked(bus, [item.id]) { () throws(KeyringError) in
      try bus.setAttributes(of: item.id, scoped(attributes), label: unchanged ? nil : label)
    }
    if !dropped.isEmpty {
      // KeePassXC merges a new attribute set into the old one: an attribute can be added there but never
      // removed (erasing must drop msmtp's `service=smtp`). Then the item is rewritten whole.
      let now = try bus.attributes(of: [item.id])[item.id].map(ownAttributes) ?? [:]
      if !dropped.isDisjoint(with: now.keys) {
        let secret = try self.secret(of: KeyringItem(id: item.id, attributes: now, locked: false))
        let fresh = try create(attributes: attributes, label: label, secret: secret)
        try delete(KeyringItem(id: item.id, attributes: now, locked: false))
        return fresh
      }
    }
    return KeyringItem(id: item.id, attributes: attributes, locked: false)
  }

  public func delete(_ item: KeyringItem) throws(KeyringError) {
    let bus = try self.bus()
    if item.locked { try unlock([item.id], bus) }
    let prompt = try retryingUnlocked(bus, [item.id]) { () throws(KeyringError) in try bus.delete(item.id) }
    if prompt != "/" {
      // KeePassXC confirms every delete through a prompt, even unlocked: running it is the delete.
      if try bus.runPrompt(prompt, timeout: promptTimeout).dismissed {
        throw .failed("the keyring's prompt to delete the item was dismissed: nothing deleted")
      }
    }
  }

  // MARK: Unlocking

  /// What `mailcred unlock` found and did.
  public enum PasswordUnlock: Sendable, Equatable {
    case unlocked
    case alreadyUnlocked
  }

  /// Unlocks the default collection with its password through gnome-keyring's own interface (no prompt:
  /// for ssh sessions and headless machines). Another Secret Service has no such interface: `.failed`
  /// naming what answers instead.
  public func unlockDefaultCollection(password: SecretBytes) throws(KeyringError) -> PasswordUnlock {
    let bus = try self.bus()
    guard let collection = try bus.defaultCollection() else {
      throw .failed("the keyring has no default collection to unlock")
    }
    if try !bus.isLocked(collection: collection) { return .alreadyUnlocked }
    do throws(KeyringError) {
      try bus.unlockWithMasterPassword(collection, password: password)
    } catch {
      switch error {
      case .unavailable, .invalidAttribute: throw error
      case .itemVanished:
        // No such interface: not gnome-keyring.
        throw .notGnomeKeyring(bus.serviceOwnerCommand().map { "\"\($0)\"" } ?? "another program")
      default:
        if try bus.isLocked(collection: collection) { throw .wrongPassword }
        throw error
      }
    }
    if try bus.isLocked(collection: collection) { throw .wrongPassword }
    return .unlocked
  }

  // MARK: Helpers

  /// The deadline for a prompt: the user's when one may appear; otherwise a short one, for the prompts
  /// that complete by themselves (KeePassXC's CreateItem and Delete without confirmation).
  private var promptTimeout: Double { unlockPolicy.canPrompt ? unlockPolicy.timeout : 5 }

  private func lockedCollections(_ bus: SecretServiceBus) throws(KeyringError) -> [String] {
    try bus.collections().filter(\.locked).map(\.path)
  }

  /// Unlocks `paths` through the Secret Service's prompt, or says `.locked` when no prompt may appear.
  private func unlock(_ paths: [String], _ bus: SecretServiceBus) throws(KeyringError) {
    guard unlockPolicy.canPrompt else { throw .locked }
    let (_, prompt) = try bus.unlock(paths)
    if prompt == "/" { return }
    if try bus.runPrompt(prompt, timeout: unlockPolicy.timeout).dismissed { throw .unlockDismissed }
  }

  /// Runs `body`; when it fails because its object was locked meanwhile (another program locked the
  /// keyring), unlocks `paths` and runs it once more.
  private func retryingUnlocked<T>(
    _ bus: SecretServiceBus, _ paths: [String], _ body: () throws(KeyringError) -> T
  ) throws(KeyringError) -> T {
    do throws(KeyringError) {
      return try body()
    } catch {
      guard error == .locked, unlockPolicy.canPrompt else { throw error }
      try unlock(paths, bus)
      return try body()
    }
  }

  private func bus() throws(KeyringError) -> SecretServiceBus {
    let address = self.address
    let result: Result<SecretServiceBus, KeyringError> = connection.withLock { cached in
      if let cached { return .success(cached) }
      let made = Result { () throws(KeyringError) in try SecretServiceBus(address: address) }
      if case .success(let bus) = made { cached = bus }
      return made
    }
    return try result.get()
  }

  /// Queries and writes carry the schema name, so mailcred sees only its own items.
  func scoped(_ attributes: [String: String]) -> [String: String] {
    var scoped = attributes
    scoped[Self.schemaAttribute] = SchemaAttribute.schemaName
    return scoped
  }

  func ownAttributes(_ attributes: [String: String]) -> [String: String] {
    attributes.filter { SchemaAttribute.names.contains($0.key) }
  }
}

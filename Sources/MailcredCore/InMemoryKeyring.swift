import Synchronization

/// A keyring in process memory, for fast tests of logic. It follows the Secret Service's rules that matter
/// to mailcred: create never replaces, locked items visible to search but not to lookup.
public final class InMemoryKeyring: Keyring {
  private struct Stored {
    var item: KeyringItem
    var label: String
    var secret: [UInt8]
    /// Stored by `storeForeign`: another program's item, seen only by `searchForeign`.
    var foreign = false
  }

  private let state = Mutex<(items: [Stored], next: Int, locked: Bool)>(([], 1, false))

  public init() {}

  /// The label of an item (the Secret Service shows it in seahorse; mailcred only writes it).
  public func label(of item: KeyringItem) -> String? {
    state.withLock { s in s.items.first { $0.item.id == item.id }?.label }
  }

  /// Locks or unlocks every item, as locking the collection does.
  public func setLocked(_ locked: Bool) {
    state.withLock { $0.locked = locked }
  }

  public func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    try SchemaAttribute.validate(query)
    let found: [KeyringItem]? = state.withLock { s in
      let hits = s.items.filter { !$0.foreign && matches($0.item.attributes, query) }.map {
        var item = $0.item
        item.locked = s.locked
        return item
      }
      // A locked store never answers "nothing here": it cannot know.
      return s.locked && hits.isEmpty ? nil : hits
    }
    guard let found else { throw .locked }
    return found
  }

  public func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes? {
    try SchemaAttribute.validate(query)
    let result: (found: [UInt8]?, locked: Bool) = state.withLock { s in
      (s.locked ? nil : s.items.first { !$0.foreign && matches($0.item.attributes, query) }?.secret, s.locked)
    }
    if result.locked { throw .locked }
    return result.found.map { SecretBytes(taking: $0) }
  }

  public func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes {
    let result: Result<[UInt8], KeyringError> = state.withLock { s in
      if s.locked { return .failure(.locked) }
      guard let hit = s.items.first(where: { $0.item.id == item.id }) else {
        return .failure(.itemVanished)
      }
      return .success(hit.secret)
    }
    return try SecretBytes(taking: result.get())
  }

  @discardableResult
  public func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) -> KeyringItem {
    try SchemaAttribute.validate(attributes)
    let bytes = secret.withUnsafeBytes { Array($0) }
    let result: Result<KeyringItem, KeyringError> = state.withLock { s in
      if s.locked { return .failure(.locked) }
      let item = KeyringItem(id: "mem/\(s.next)", attributes: attributes, locked: false)
      s.items.append(Stored(item: item, label: label, secret: bytes))
      s.next += 1
      return .success(item)
    }
    return try result.get()
  }

  @discardableResult
  public func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError) -> KeyringItem {
    try SchemaAttribute.validate(attributes)
    let result: Result<KeyringItem, KeyringError> = state.withLock { s in
      if s.locked { return .failure(.locked) }
      guard let index = s.items.firstIndex(where: { $0.item.id == item.id }) else { return .failure(.itemVanished) }
      s.items[index].item.attributes = attributes
      s.items[index].label = label
      return .success(s.items[index].item)
    }
    return try result.get()
  }

  public func delete(_ item: KeyringItem) throws(KeyringError) {
    let failure: KeyringError? = state.withLock { s in
      if s.locked { return .locked }
      guard let index = s.items.firstIndex(where: { $0.item.id == item.id }) else {
        return .itemVanished
      }
      s.items.remove(at: index)
      return nil
    }
    if let failure { throw failure }
  }

  /// An item as another program (secret-tool, git-credential-libsecret) would store it: any attributes.
  @discardableResult
  public func storeForeign(attributes: [String: String], label: String, secret: SecretBytes) -> KeyringItem {
    let bytes = secret.withUnsafeBytes { Array($0) }
    return state.withLock { s in
      let item = KeyringItem(id: "mem/\(s.next)", attributes: attributes, locked: false)
      s.items.append(Stored(item: item, label: label, secret: bytes, foreign: true))
      s.next += 1
      return item
    }
  }

  public func searchForeign(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    let found: [KeyringItem]? = state.withLock { s in
      s.locked ? nil : s.items.filter { $0.foreign && matches($0.item.attributes, query) }.map(\.item)
    }
    guard let found else { throw .locked }
    return found
  }
}

private func matches(_ attributes: [String: String], _ query: [String: String]) -> Bool {
  query.allSatisfy { attributes[$0.key] == $0.value }
}

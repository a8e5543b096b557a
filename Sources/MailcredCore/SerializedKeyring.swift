import Synchronization

/// A keyring whose calls run one at a time. `audit` refreshes OAuth2 grants and records check results
/// concurrently, from several threads; the Secret Service client keeps per-connection state (its session)
/// that is not meant for concurrent callers, and the daemon answers one call at a time anyway.
public final class SerializedKeyring: Keyring {
  private let base: any Keyring
  private let lock = Mutex(())

  public init(_ base: any Keyring) { self.base = base }

  private func serialized<T: Sendable>(_ body: () throws(KeyringError) -> T) throws(KeyringError) -> T {
    let result: Result<T, KeyringError> = lock.withLock { _ in Result { () throws(KeyringError) in try body() } }
    return try result.get()
  }

  public func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    try serialized { () throws(KeyringError) in try base.search(query) }
  }

  public func searchForeign(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    try serialized { () throws(KeyringError) in try base.searchForeign(query) }
  }

  public func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes? {
    try serialized { () throws(KeyringError) in try base.lookup(query) }
  }

  public func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes {
    try serialized { () throws(KeyringError) in try base.secret(of: item) }
  }

  @discardableResult
  public func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) -> KeyringItem {
    try serialized { () throws(KeyringError) in try base.create(attributes: attributes, label: label, secret: secret) }
  }

  @discardableResult
  public func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError) -> KeyringItem {
    try serialized { () throws(KeyringError) in try base.update(item, attributes: attributes, label: label) }
  }

  public func delete(_ item: KeyringItem) throws(KeyringError) {
    try serialized { () throws(KeyringError) in try base.delete(item) }
  }
}

import CLibSecret
import MailcredCore
import Synchronization

/// The Secret Service (gnome-keyring, KeePassXC, ...): the only implementation of `Keyring` that touches a
/// real keyring.
///
/// Reads, updates and deletes go straight to the D-Bus API (`SecretServiceBus`): one round trip for `get`,
/// pipelined attribute reads for `list`. Creating an item goes through libsecret, which knows how to find
/// the default collection. Never waits on a prompt: libsecret would show an unlock dialog for a locked
/// collection, which on a headless machine never appears, so the lock is checked first and reported.
public final class SecretServiceKeyring: Keyring, @unchecked Sendable {
  // libsecret keeps pointers to the schema; a schema made by secret_schema_newv is reference counted and
  // this one lives as long as the process.
  private nonisolated(unsafe) static let schema: UnsafeMutablePointer<SecretSchema> = {
    let names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, nil)!
    for name in SchemaAttribute.names {
      // SECRET_SCHEMA_ATTRIBUTE_STRING is 0: GINT_TO_POINTER(0).
      _ = g_hash_table_insert(names, g_strdup(name), nil)
    }
    let schema = secret_schema_newv(SchemaAttribute.schemaName, SECRET_SCHEMA_NONE, names)!
    g_hash_table_unref(names)
    return schema
  }()

  /// The attribute the Secret Service stores the schema name in.
  private static let schemaAttribute = "xdg:schema"

  private let connection = Mutex<SecretServiceBus?>(nil)

  public init() {}

  // MARK: Keyring

  public func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes? {
    try SchemaAttribute.validate(query)
    let bus = try self.bus()
    let found = try bus.searchItems(scoped(query))
    guard !found.unlocked.isEmpty else {
      if !found.locked.isEmpty { throw .locked }
      return nil
    }
    var chosen = found.unlocked[0]
    if found.unlocked.count > 1 {
      // Two matches (an interrupted rotation left two current items): the newest is the one wanted.
      let attributes = try bus.attributes(of: found.unlocked)
      chosen = found.unlocked.max { (attributes[$0]?["created"] ?? "") < (attributes[$1]?["created"] ?? "") } ?? chosen
    }
    return try bus.secrets(of: [chosen])[chosen]
  }

  public func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    try SchemaAttribute.validate(query)
    let bus = try self.bus()
    let found = try bus.searchItems(scoped(query))
    let attributes = try bus.attributes(of: found.unlocked + found.locked)
    let locked = Set(found.locked)
    return (found.unlocked + found.locked).compactMap { path in
      guard var values = attributes[path] else { return nil }  // deleted meanwhile
      values[Self.schemaAttribute] = nil
      return KeyringItem(id: path, attributes: values, locked: locked.contains(path))
    }
  }

  public func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes {
    if item.locked { throw .locked }
    guard let secret = try bus().secrets(of: [item.id])[item.id] else {
      throw .failed("the keyring returned no secret for item \(item.id)")
    }
    return secret
  }

  public func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) {
    try SchemaAttribute.validate(attributes)
    guard !secret.contains(0) else { throw .invalidAttribute("a secret may not contain NUL") }
    switch try bus().defaultCollectionLocked() {
    case nil: throw .failed("the keyring has no default collection — create one (e.g. with seahorse) and retry")
    case true?: throw .locked
    case false?: break
    }
    let table = makeAttributeTable(attributes)
    defer { g_hash_table_unref(table) }
    // A NUL-terminated copy for libsecret, wiped right after the call.
    var text = secret.withUnsafeBytes { Array($0) } + [0]
    defer { wipe(&text) }
    let stored = try throwingGError { error in
      text.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { chars in
          secret_password_storev_sync(Self.schema, table, nil, label, chars.baseAddress, nil, error)
        }
      }
    }
    if stored == 0 { throw .failed("the keyring did not store the item") }
  }

  public func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError) {
    try SchemaAttribute.validate(attributes)
    if item.locked { throw .locked }
    // Every property write makes gnome-keyring rewrite its whole file (~12 ms at 100 items): recording a
    // check result must not pay twice. mailcred derives the label from account, kind and user, so the same
    // label from the old attributes means the label is already right.
    let unchanged = Credential(attributes: item.attributes)?.label == label
    try bus().setAttributes(of: item.id, scoped(attributes), label: unchanged ? nil : label)
  }

  public func delete(_ item: KeyringItem) throws(KeyringError) {
    if item.locked { throw .locked }
    try bus().delete(item.id)
  }

  // MARK: Helpers

  private func bus() throws(KeyringError) -> SecretServiceBus {
    let result: Result<SecretServiceBus, KeyringError> = connection.withLock { cached in
      if let cached { return .success(cached) }
      let made = Result { () throws(KeyringError) in try SecretServiceBus() }
      if case .success(let bus) = made { cached = bus }
      return made
    }
    return try result.get()
  }

  /// Queries and writes carry the schema name, so mailcred sees only its own items.
  private func scoped(_ attributes: [String: String]) -> [String: String] {
    var scoped = attributes
    scoped[Self.schemaAttribute] = SchemaAttribute.schemaName
    return scoped
  }
}

import CLibSecret
import MailcredCore

/// The Secret Service (gnome-keyring, KeePassXC, ...) through libsecret: the only implementation of
/// `Keyring` that touches a real keyring.
///
/// Never waits on a prompt: libsecret would show an unlock dialog for a locked collection, which on a
/// headless machine never appears. Locked state is checked first and reported as `.locked`.
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

  public init() {}

  // MARK: Keyring

  public func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes? {
    try SchemaAttribute.validate(query)
    let table = makeAttributeTable(query)
    defer { g_hash_table_unref(table) }
    let password = try throwingGError { error in
      secret_password_lookupv_sync(Self.schema, table, nil, error)
    }
    guard let password else {
      // libsecret answers NULL with no error for a locked item as for a missing one: tell them apart.
      if try search(query).contains(where: \.locked) { throw .locked }
      return nil
    }
    defer { secret_password_free(password) }  // wipes the C copy
    let length = strlen(password)
    let bytes = [UInt8](UnsafeRawBufferPointer(start: password, count: length))
    return SecretBytes(taking: bytes)
  }

  public func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    try SchemaAttribute.validate(query)
    let service = try connect()
    defer { g_object_unref(service) }
    let table = makeAttributeTable(query)
    defer { g_hash_table_unref(table) }
    let list = try throwingGError { error in
      secret_service_search_sync(service, Self.schema, table, SECRET_SEARCH_ALL, nil, error)
    }
    var items: [KeyringItem] = []
    consumeObjectList(list) { object in
      let item = object.assumingMemoryBound(to: SecretItem.self)
      items.append(Self.describe(item))
    }
    return items
  }

  public func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes {
    let handle = try open(item)
    defer { g_object_unref(handle) }
    if secret_item_get_locked(handle) != 0 { throw .locked }
    _ = try throwingGError { error in secret_item_load_secret_sync(handle, nil, error) }
    guard let value = secret_item_get_secret(handle) else {
      throw .failed("the keyring returned no secret for \(item.label)")
    }
    defer { secret_value_unref(UnsafeMutableRawPointer(value)) }
    var length = 0
    guard let data = secret_value_get(value, &length) else { throw .failed("empty secret value") }
    return SecretBytes(taking: [UInt8](UnsafeRawBufferPointer(start: data, count: length)))
  }

  public func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) {
    try SchemaAttribute.validate(attributes)
    guard !secret.contains(0) else { throw .invalidAttribute("a secret may not contain NUL") }
    try requireUnlockedDefaultCollection()
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
    let handle = try open(item)
    defer { g_object_unref(handle) }
    if secret_item_get_locked(handle) != 0 { throw .locked }
    let table = makeAttributeTable(attributes)
    defer { g_hash_table_unref(table) }
    _ = try throwingGError { error in secret_item_set_attributes_sync(handle, Self.schema, table, nil, error) }
    if label != item.label {
      _ = try throwingGError { error in secret_item_set_label_sync(handle, label, nil, error) }
    }
  }

  public func delete(_ item: KeyringItem) throws(KeyringError) {
    let handle = try open(item)
    defer { g_object_unref(handle) }
    if secret_item_get_locked(handle) != 0 { throw .locked }
    _ = try throwingGError { error in secret_item_delete_sync(handle, nil, error) }
  }

  // MARK: Helpers

  private func connect() throws(KeyringError) -> UnsafeMutablePointer<SecretService> {
    let service = try throwingGError { error in secret_service_get_sync(SECRET_SERVICE_NONE, nil, error) }
    guard let service else { throw .unavailable("libsecret returned no service") }
    return service
  }

  private func open(_ item: KeyringItem) throws(KeyringError) -> UnsafeMutablePointer<SecretItem> {
    let service = try connect()
    defer { g_object_unref(service) }
    let handle = try throwingGError { error in
      secret_item_new_for_dbus_path_sync(service, item.id, SECRET_ITEM_NONE, nil, error)
    }
    guard let handle else { throw .failed("item \(item.id) no longer exists") }
    return handle
  }

  /// Storing into a locked collection would make the Secret Service ask for an unlock prompt: refuse first.
  private func requireUnlockedDefaultCollection() throws(KeyringError) {
    let service = try connect()
    defer { g_object_unref(service) }
    let collection = try throwingGError { error in
      secret_collection_for_alias_sync(service, "default", SECRET_COLLECTION_NONE, nil, error)
    }
    guard let collection else {
      throw .failed("the keyring has no default collection — create one (e.g. with seahorse) and retry")
    }
    defer { g_object_unref(collection) }
    if secret_collection_get_locked(collection) != 0 { throw .locked }
  }

  private static func describe(_ item: UnsafeMutablePointer<SecretItem>) -> KeyringItem {
    let proxy = UnsafeMutableRawPointer(item).assumingMemoryBound(to: GDBusProxy.self)
    let path = String(cString: g_dbus_proxy_get_object_path(proxy))
    var attributes: [String: String] = [:]
    if let table = secret_item_get_attributes(item) {
      attributes = readAttributeTable(table)
      g_hash_table_unref(table)
      // libsecret adds the schema name as an attribute; mailcred's model does not carry it.
      attributes["xdg:schema"] = nil
    }
    let labelPointer = secret_item_get_label(item)
    let label = labelPointer.map { String(cString: $0) } ?? ""
    g_free(labelPointer)
    return KeyringItem(id: path, label: label, attributes: attributes, locked: secret_item_get_locked(item) != 0)
  }
}

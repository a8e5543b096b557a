import CLibSecret
import MailcredCore

/// The Secret Service D-Bus API called directly through GDBus, for the calls that libsecret makes slow:
/// libsecret builds a proxy per item (a `Properties.GetAll` round trip each) and negotiates an encrypted
/// session, while `get` needs one search and one secret, and `list` needs only attributes.
///
/// Transfers use the "plain" session algorithm: the session bus is a socket private to the user, and any
/// process of that user may ask the Secret Service for the same secret, so encrypting the transfer would
/// protect nothing that mailcred's threat model covers — but it costs a Diffie-Hellman exchange on every
/// `get`. Every call has a deadline, so a hung keyring daemon is an error, not a hang.
final class SecretServiceBus: @unchecked Sendable {
  static let service = "org.freedesktop.secrets"
  static let servicePath = "/org/freedesktop/secrets"
  static let timeoutMilliseconds: Int32 = 5000

  private let connection: OpaquePointer
  private var session: String?

  init() throws(KeyringError) {
    let bus = try throwingGError { error in g_bus_get_sync(G_BUS_TYPE_SESSION, nil, error) }
    guard let bus else { throw .unavailable("no session bus") }
    connection = bus
  }

  deinit { g_object_unref(UnsafeMutableRawPointer(connection)) }

  // MARK: Secret Service methods

  /// `SearchItems`: the matching item paths, unlocked and locked.
  func searchItems(_ attributes: [String: String]) throws(KeyringError) -> (unlocked: [String], locked: [String]) {
    let reply = try call(Self.servicePath, "org.freedesktop.Secret.Service", "SearchItems", [stringDictionary(attributes)])
    defer { g_variant_unref(reply) }
    return (objectPaths(child(reply, 0)), objectPaths(child(reply, 1)))
  }

  /// `GetSecrets` for the given unlocked items, as raw bytes. The reply's copy is wiped before release.
  func secrets(of paths: [String]) throws(KeyringError) -> [String: SecretBytes] {
    guard !paths.isEmpty else { return [:] }
    let session = try plainSession()
    let reply = try call(
      Self.servicePath, "org.freedesktop.Secret.Service", "GetSecrets",
      [objectPathArray(paths), g_variant_new_object_path(session)])
    defer { g_variant_unref(reply) }
    let dictionary = child(reply, 0)
    defer { g_variant_unref(dictionary) }
    var result: [String: SecretBytes] = [:]
    for index in 0..<g_variant_n_children(dictionary) {
      let entry = g_variant_get_child_value(dictionary, index)!
      defer { g_variant_unref(entry) }
      let path = string(child(entry, 0))
      let secret = child(entry, 1)  // (oayays)
      defer { g_variant_unref(secret) }
      let value = child(secret, 2)
      defer { g_variant_unref(value) }
      var length = 0
      if let bytes = g_variant_get_fixed_array(value, &length, 1) {
        result[path] = SecretBytes(taking: [UInt8](UnsafeRawBufferPointer(start: bytes, count: length)))
        // GVariant data is immutable by contract, but this buffer is ours alone and about to be freed.
        memset(UnsafeMutableRawPointer(mutating: bytes), 0, length)
      }
    }
    return result
  }

  /// `Properties.Get(Item, "Attributes")` for many items, issued together on the connection and awaited
  /// together: one round trip's latency instead of one per item.
  func attributes(of paths: [String]) throws(KeyringError) -> [String: [String: String]] {
    guard !paths.isEmpty else { return [:] }
    let context = g_main_context_new()!
    g_main_context_push_thread_default(context)
    defer {
      g_main_context_pop_thread_default(context)
      g_main_context_unref(context)
    }
    let pending = PendingAttributes(paths.count)
    let box = Unmanaged.passRetained(pending)
    defer { box.release() }
    // At most `window` calls in flight: a bus limits pending replies per connection (dbus-daemon's
    // built-in default is 128; Debian's session.conf raises it), and past the limit calls fail.
    let window = 64
    for (index, path) in paths.enumerated() {
      while index - (paths.count - pending.remaining) >= window { g_main_context_iteration(context, 1) }
      let request = Unmanaged.passRetained(PathRequest(path: path, pending: box.toOpaque())).toOpaque()
      g_dbus_connection_call(
        connection, Self.service, path, "org.freedesktop.DBus.Properties", "Get",
        tuple([g_variant_new_string("org.freedesktop.Secret.Item"), g_variant_new_string("Attributes")]),
        nil, G_DBUS_CALL_FLAGS_NO_AUTO_START, Self.timeoutMilliseconds, nil,
        { source, result, userData in
          let request = Unmanaged<PathRequest>.fromOpaque(userData!).takeRetainedValue()
          let pending = Unmanaged<PendingAttributes>.fromOpaque(request.pending).takeUnretainedValue()
          var error: UnsafeMutablePointer<GError>?
          let reply = g_dbus_connection_call_finish(
            OpaquePointer(source!), result, &error)
          attributeReplyArrived(pending, path: request.path, reply: reply, error: error)
        }, request)
    }
    while pending.remaining > 0 { g_main_context_iteration(context, 1) }
    if let failure = pending.failure { throw failure }
    return pending.results
  }

  /// Sets an item's attributes through `Properties.Set`, and of the label unless it is nil (each write costs the daemon a
  /// rewrite of its file).
  func setAttributes(of path: String, _ attributes: [String: String], label: String?) throws(KeyringError) {
    var set: [(String, OpaquePointer)] = [("Attributes", stringDictionary(attributes))]
    if let label { set.append(("Label", g_variant_new_string(label))) }
    for (property, value) in set {
      let reply = try call(
        path, "org.freedesktop.DBus.Properties", "Set",
        [g_variant_new_string("org.freedesktop.Secret.Item"), g_variant_new_string(property), g_variant_new_variant(value)])
      g_variant_unref(reply)
    }
  }

  /// `Item.Delete`. A prompt in reply means the item is locked: mailcred never shows prompts.
  func delete(_ path: String) throws(KeyringError) {
    let reply = try call(path, "org.freedesktop.Secret.Item", "Delete", [])
    defer { g_variant_unref(reply) }
    if string(child(reply, 0)) != "/" { throw .locked }
  }

  /// Whether the collection behind the `default` alias is locked; nil when there is no default collection.
  func defaultCollectionLocked() throws(KeyringError) -> Bool? {
    let alias = try call(Self.servicePath, "org.freedesktop.Secret.Service", "ReadAlias", [g_variant_new_string("default")])
    let path = string(child(alias, 0))
    g_variant_unref(alias)
    if path == "/" { return nil }
    let reply = try call(
      path, "org.freedesktop.DBus.Properties", "Get",
      [g_variant_new_string("org.freedesktop.Secret.Collection"), g_variant_new_string("Locked")])
    defer { g_variant_unref(reply) }
    let boxed = child(reply, 0)
    defer { g_variant_unref(boxed) }
    let value = g_variant_get_variant(boxed)!
    defer { g_variant_unref(value) }
    return g_variant_get_boolean(value) != 0
  }

  // MARK: Plumbing

  private func plainSession() throws(KeyringError) -> String {
    if let session { return session }
    let reply = try call(
      Self.servicePath, "org.freedesktop.Secret.Service", "OpenSession",
      [g_variant_new_string("plain"), g_variant_new_variant(g_variant_new_string(""))])
    defer { g_variant_unref(reply) }
    let path = string(child(reply, 1))
    session = path
    return path
  }

  /// A synchronous call with the deadline; the arguments' floating references are consumed.
  private func call(_ path: String, _ interface: String, _ method: String, _ arguments: [OpaquePointer]) throws(KeyringError) -> OpaquePointer {
    let parameters = tuple(arguments)
    let reply = try throwingGError { error in
      g_dbus_connection_call_sync(
        connection, Self.service, path, interface, method, parameters, nil, G_DBUS_CALL_FLAGS_NO_AUTO_START,
        Self.timeoutMilliseconds, nil, error)
    }
    guard let reply else { throw .failed("\(method) returned nothing") }
    return reply
  }
}

/// Replies to the pipelined attribute reads, gathered on the thread that iterates the main context.
private final class PendingAttributes {
  var remaining: Int
  var results: [String: [String: String]] = [:]
  var failure: KeyringError?
  init(_ count: Int) { remaining = count }
}

// The callback is a C function pointer: it cannot capture, so it reaches `PendingAttributes` through user
// data and hands the reply to this function.
private func attributeReplyArrived(
  _ pending: PendingAttributes, path: String, reply: OpaquePointer?, error: UnsafeMutablePointer<GError>?
) {
  pending.remaining -= 1
  if let error {
    defer { g_error_free(error) }
    // An item deleted between the search and this call is simply gone; any other failure fails the
    // whole read rather than silently listing fewer items.
    let message = error.pointee.message.map { String(cString: $0) } ?? ""
    if message.contains("NoSuchObject") || message.contains("No such") || message.contains("UnknownObject")
      || message.contains("UnknownMethod")
    {
      return
    }
    pending.failure = pending.failure ?? keyringError(from: error)
    return
  }
  guard let reply else { return }
  defer { g_variant_unref(reply) }
  let boxed = child(reply, 0)
  defer { g_variant_unref(boxed) }
  let dictionary = g_variant_get_variant(boxed)!
  defer { g_variant_unref(dictionary) }
  pending.results[path] = readStringDictionary(dictionary)
}

private final class PathRequest {
  let path: String
  let pending: UnsafeMutableRawPointer
  init(path: String, pending: UnsafeMutableRawPointer) {
    self.path = path
    self.pending = pending
  }
}

// MARK: GVariant helpers

private func tuple(_ children: [OpaquePointer]) -> OpaquePointer {
  children.map { Optional($0) }.withUnsafeBufferPointer { g_variant_new_tuple($0.baseAddress, gsize($0.count)) }
}

/// `a{ss}` from a dictionary (a floating reference).
private func stringDictionary(_ dictionary: [String: String]) -> OpaquePointer {
  let entries: [OpaquePointer?] = dictionary.sorted { $0.key < $1.key }.map { key, value in
    g_variant_new_dict_entry(g_variant_new_string(key), g_variant_new_string(value))
  }
  let type = g_variant_type_new("{ss}")
  defer { g_variant_type_free(type) }
  return entries.withUnsafeBufferPointer { g_variant_new_array(type, $0.baseAddress, gsize($0.count)) }
}

private func objectPathArray(_ paths: [String]) -> OpaquePointer {
  let children: [OpaquePointer?] = paths.map { g_variant_new_object_path($0) }
  let type = g_variant_type_new("o")
  defer { g_variant_type_free(type) }
  return children.withUnsafeBufferPointer { g_variant_new_array(type, $0.baseAddress, gsize($0.count)) }
}

private func child(_ value: OpaquePointer, _ index: gsize) -> OpaquePointer {
  g_variant_get_child_value(value, index)!
}

/// The string of a string or object-path value; releases `value`.
private func string(_ value: OpaquePointer) -> String {
  defer { g_variant_unref(value) }
  return String(cString: g_variant_get_string(value, nil))
}

/// The paths of an `ao` value; releases `value`.
private func objectPaths(_ value: OpaquePointer) -> [String] {
  defer { g_variant_unref(value) }
  return (0..<g_variant_n_children(value)).map { string(child(value, $0)) }
}

private func readStringDictionary(_ dictionary: OpaquePointer) -> [String: String] {
  var result: [String: String] = [:]
  for index in 0..<g_variant_n_children(dictionary) {
    let entry = child(dictionary, index)
    result[string(child(entry, 0))] = string(child(entry, 1))
    g_variant_unref(entry)
  }
  return result
}

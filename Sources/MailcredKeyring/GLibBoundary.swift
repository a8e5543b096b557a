import CLibSecret
import MailcredCore

// The C boundary: every GLib/libsecret convention (GError out-parameters, GHashTable of attributes, GList
// of objects) is turned into Swift here and nowhere else.

/// Runs a C call that reports failure through a `GError **`, turning the error into a `KeyringError`.
/// `body` returns whether the call succeeded (gboolean, non-NULL pointer, ...).
func throwingGError<T>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<GError>?>) -> T) throws(KeyringError) -> T {
  var error: UnsafeMutablePointer<GError>?
  let result = body(&error)
  if let error {
    defer { g_error_free(error) }
    throw keyringError(from: error)
  }
  return result
}

/// Classifies a GError: a missing bus or service is "unavailable"; anything else is a failure with
/// GLib's message, stripped of the D-Bus error name prefix.
func keyringError(from error: UnsafeMutablePointer<GError>) -> KeyringError {
  var message = error.pointee.message.map { String(cString: $0) } ?? "unknown error"
  if message.hasPrefix("GDBus.Error:"), let space = message.firstIndex(of: " ") {
    message = String(message[message.index(after: space)...])
  }
  let domain = error.pointee.domain
  let code = error.pointee.code
  if domain == g_dbus_error_quark() {
    let unavailableCodes: [GDBusError] = [
      G_DBUS_ERROR_SERVICE_UNKNOWN, G_DBUS_ERROR_NAME_HAS_NO_OWNER, G_DBUS_ERROR_NO_SERVER,
      G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND, G_DBUS_ERROR_SPAWN_EXEC_FAILED, G_DBUS_ERROR_SPAWN_FAILED,
      G_DBUS_ERROR_SPAWN_CHILD_EXITED, G_DBUS_ERROR_SPAWN_SERVICE_INVALID, G_DBUS_ERROR_DISCONNECTED,
      G_DBUS_ERROR_NO_REPLY, G_DBUS_ERROR_TIMEOUT, G_DBUS_ERROR_TIMED_OUT, G_DBUS_ERROR_UNKNOWN_METHOD,
      G_DBUS_ERROR_UNKNOWN_OBJECT,
    ]
    if unavailableCodes.contains(where: { Int32($0.rawValue) == code }) { return .unavailable(message) }
  }
  if domain == g_io_error_quark() {
    // Connecting to a bus that is not there, or no bus address at all (no X11 to autolaunch one).
    let unavailableCodes: [GIOErrorEnum] = [
      G_IO_ERROR_NOT_FOUND, G_IO_ERROR_CONNECTION_REFUSED, G_IO_ERROR_FAILED, G_IO_ERROR_TIMED_OUT,
      G_IO_ERROR_CLOSED, G_IO_ERROR_NOT_CONNECTED, G_IO_ERROR_BROKEN_PIPE,
    ]
    if unavailableCodes.contains(where: { Int32($0.rawValue) == code }) { return .unavailable(message) }
  }
  if domain == g_spawn_error_quark() { return .unavailable(message) }
  if domain == secret_error_get_quark() && code == Int32(SECRET_ERROR_IS_LOCKED.rawValue) { return .locked }
  return .failed(message)
}

/// A new `GHashTable<gchar*, gchar*>` holding copies of `attributes`; the caller unrefs it.
func makeAttributeTable(_ attributes: [String: String]) -> OpaquePointer {
  let table = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free)!
  for (name, value) in attributes {
    _ = g_hash_table_insert(table, g_strdup(name), g_strdup(value))
  }
  return table
}

/// Reads a `GHashTable<gchar*, gchar*>` into a dictionary (the table is not consumed).
func readAttributeTable(_ table: OpaquePointer) -> [String: String] {
  var result: [String: String] = [:]
  var iterator = GHashTableIter()
  g_hash_table_iter_init(&iterator, table)
  var key: gpointer?
  var value: gpointer?
  while g_hash_table_iter_next(&iterator, &key, &value) != 0 {
    guard let key, let value else { continue }
    result[String(cString: key.assumingMemoryBound(to: CChar.self))] =
      String(cString: value.assumingMemoryBound(to: CChar.self))
  }
  return result
}

/// Calls `body` with each element of a `GList` of GObjects, then frees the list and its objects.
func consumeObjectList(_ list: UnsafeMutablePointer<GList>?, _ body: (gpointer) -> Void) {
  var node = list
  while let current = node {
    if let data = current.pointee.data { body(data) }
    node = current.pointee.next
  }
  g_list_free_full(list, g_object_unref)
}

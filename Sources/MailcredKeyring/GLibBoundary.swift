import CGLib
import MailcredCore

// The C boundary: every GLib convention (GError out-parameters, D-Bus error names) is turned into Swift
// here and nowhere else.

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

/// Classifies a GError by what it is, never by its message: a D-Bus error the service sent is known by its
/// error name; an error GDBus raised locally (no bus, no reply in time) by its domain and code.
func keyringError(from error: UnsafeMutablePointer<GError>) -> KeyringError {
  let name = remoteErrorName(error)
  var message = error.pointee.message.map { String(cString: $0) } ?? "unknown error"
  if name != nil { g_dbus_error_strip_remote_error(error) }
  message = error.pointee.message.map { String(cString: $0) } ?? message
  if let name { return keyringError(dbusName: name, message: message) }

  let domain = error.pointee.domain
  let code = error.pointee.code
  if domain == g_dbus_error_quark() {
    switch GDBusError(rawValue: UInt32(code)) {
    case G_DBUS_ERROR_NO_REPLY, G_DBUS_ERROR_TIMEOUT, G_DBUS_ERROR_TIMED_OUT:
      return noAnswerInTime()
    default: return .unavailable(message)
    }
  }
  if domain == g_io_error_quark() {
    // Connecting to a bus that is not there, or no bus address at all (no X11 to autolaunch one), or a
    // connection that died; a call that ran out of time.
    if code == Int32(G_IO_ERROR_TIMED_OUT.rawValue) || code == Int32(G_IO_ERROR_CANCELLED.rawValue) {
      return noAnswerInTime()
    }
    return .unavailable(message)
  }
  if domain == g_spawn_error_quark() { return .unavailable(message) }
  return .failed(message)
}

/// No reply within the deadline (GDBus's or the direct client's): the same words either way.
func noAnswerInTime() -> KeyringError {
  .unavailable("the Secret Service did not answer within \(SecretServiceBus.timeoutMilliseconds / 1000) s")
}

/// The error name of a D-Bus error reply (`org.freedesktop.Secret.Error.IsLocked`, ...), nil for an error
/// that GDBus raised itself.
private func remoteErrorName(_ error: UnsafeMutablePointer<GError>) -> String? {
  guard let raw = g_dbus_error_get_remote_error(error) else { return nil }
  defer { g_free(raw) }
  return String(cString: raw)
}

/// The D-Bus error names a Secret Service or the bus sends, as mailcred's cases.
func keyringError(dbusName name: String, message: String) -> KeyringError {
  switch name {
  case "org.freedesktop.Secret.Error.IsLocked":
    return .locked
  case "org.freedesktop.Secret.Error.NoSuchObject", "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownInterface", "org.freedesktop.DBus.Error.UnknownMethod":
    // The object is gone: an item another program deleted between our search and this call (GDBus
    // services answer a call on a path they no longer export with UnknownMethod "No such interface").
    return .itemVanished
  case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoServer", "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.Timeout",
    "org.freedesktop.DBus.Error.TimedOut", "org.freedesktop.DBus.Error.LimitsExceeded":
    return .unavailable(message)
  default:
    if name.hasPrefix("org.freedesktop.DBus.Error.Spawn.") { return .unavailable(message) }
    return .failed("\(message) (\(name))")
  }
}

import CGLib
import MailcredCore

/// `Properties.Get(Item, "Attributes")` for many items, issued together on the connection and awaited
/// together: one round trip's latency instead of one per item (`list` of 1000 items).
struct PipelinedReads {
  let connection: OpaquePointer

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
        connection, SecretServiceBus.service, path, "org.freedesktop.DBus.Properties", "Get",
        tuple([g_variant_new_string("org.freedesktop.Secret.Item"), g_variant_new_string("Attributes")]),
        nil, G_DBUS_CALL_FLAGS_NO_AUTO_START, SecretServiceBus.timeoutMilliseconds, nil,
        { source, result, userData in
          let request = Unmanaged<PathRequest>.fromOpaque(userData!).takeRetainedValue()
          let pending = Unmanaged<PendingAttributes>.fromOpaque(request.pending).takeUnretainedValue()
          var error: UnsafeMutablePointer<GError>?
          let reply = g_dbus_connection_call_finish(OpaquePointer(source!), result, &error)
          attributeReplyArrived(pending, path: request.path, reply: reply, error: error)
        }, request)
    }
    while pending.remaining > 0 { g_main_context_iteration(context, 1) }
    if let failure = pending.failure { throw failure }
    return pending.results
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
    let failure = keyringError(from: error)
    // An item deleted between the search and this call is simply gone; any other failure fails the
    // whole read rather than silently listing fewer items.
    if failure == .itemVanished { return }
    pending.failure = pending.failure ?? failure
    return
  }
  guard let reply else { return }
  defer { g_variant_unref(reply) }
  let dictionary = unboxed(child(reply, 0))
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

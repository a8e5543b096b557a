import CGLib
import MailcredCore

/// How a Secret Service prompt ended.
struct PromptOutcome {
  var dismissed: Bool
  /// The object paths in the prompt's result (the new item for `CreateItem`, the unlocked objects for
  /// `Unlock`); empty when it carries none.
  var paths: [String]
}

/// One Secret Service prompt (an unlock dialog, KeePassXC's confirmation of a write), run and waited for:
/// subscribe to `Prompt.Completed` first (the service sends it to the caller only, and may send it before
/// `Prompt` even returns), call `Prompt("")`, then wait for the signal until the deadline.
///
/// A prompt that runs out of time is left alone: `Prompt.Dismiss` crashes gnome-keyring 42.1 (measured),
/// and a dialog the user still sees is theirs to close.
struct SecretServicePrompt {
  let connection: OpaquePointer
  let path: String

  func run(timeout: Double) throws(KeyringError) -> PromptOutcome {
    let context = g_main_context_new()!
    g_main_context_push_thread_default(context)
    defer {
      g_main_context_pop_thread_default(context)
      g_main_context_unref(context)
    }
    let waiter = PromptWaiter()
    // The subscription holds one reference, released by GLib when it is removed.
    let subscription = g_dbus_connection_signal_subscribe(
      connection, nil, "org.freedesktop.Secret.Prompt", "Completed", path, nil, G_DBUS_SIGNAL_FLAGS_NONE,
      { _, _, _, _, _, parameters, userData in
        guard let userData, let parameters else { return }
        Unmanaged<PromptWaiter>.fromOpaque(userData).takeUnretainedValue().completed(parameters)
      },
      Unmanaged.passRetained(waiter).toOpaque(),
      { userData in if let userData { Unmanaged<PromptWaiter>.fromOpaque(userData).release() } })
    defer {
      g_dbus_connection_signal_unsubscribe(connection, subscription)
      // Let GLib run the release of the subscription's reference, queued on this context.
      while g_main_context_iteration(context, 0) != 0 {}
    }

    let reply = try throwingGError { error in
      g_dbus_connection_call_sync(
        connection, SecretServiceBus.service, path, "org.freedesktop.Secret.Prompt", "Prompt",
        tuple([g_variant_new_string("")]), nil, G_DBUS_CALL_FLAGS_NO_AUTO_START,
        SecretServiceBus.timeoutMilliseconds, nil, error)
    }
    if let reply { g_variant_unref(reply) }

    let deadline = g_get_monotonic_time() + Int(timeout * 1_000_000)
    while waiter.outcome == nil {
      if g_get_monotonic_time() >= deadline { throw .promptTimeout(Int(timeout.rounded())) }
      // Non-blocking iterations with a short sleep: a blocking one would need a timer source to honour the
      // deadline, and a prompt waits for a person (tens of milliseconds of latency are invisible).
      if g_main_context_iteration(context, 0) == 0 { usleep(10_000) }
    }
    return waiter.outcome!
  }
}

private final class PromptWaiter {
  var outcome: PromptOutcome?

  /// `Completed(b dismissed, v result)`.
  func completed(_ parameters: OpaquePointer) {
    let dismissedValue = child(parameters, 0)
    let dismissed = g_variant_get_boolean(dismissedValue) != 0
    g_variant_unref(dismissedValue)
    let result = unboxed(child(parameters, 1))
    defer { g_variant_unref(result) }
    var paths: [String] = []
    if hasType(result, "o") {
      paths = [String(cString: g_variant_get_string(result, nil))]
    } else if hasType(result, "ao") {
      paths = (0..<g_variant_n_children(result)).map { string(child(result, $0)) }
    }
    outcome = PromptOutcome(dismissed: dismissed, paths: paths.filter { $0 != "/" })
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Checks block in poll(), so they run on threads of their own: on the cooperative pool (one thread per
// core) a hundred slow servers would otherwise be waited for a couple at a time.

private final class ThreadBody {
  let run: () -> Void
  init(_ run: @escaping () -> Void) { self.run = run }
}

/// Starts `body` on a new thread with SIGPIPE blocked (a write to a closed socket inside OpenSSL then
/// fails with EPIPE instead of killing the process). Returns the joinable thread, or nil when the system
/// refuses another thread.
func startThread(detached: Bool, _ body: @escaping () -> Void) -> pthread_t? {
  var attributes = pthread_attr_t()
  pthread_attr_init(&attributes)
  defer { pthread_attr_destroy(&attributes) }
  pthread_attr_setdetachstate(&attributes, Int32(detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE))
  // Virtual size only; a few hundred concurrent checks stay cheap.
  pthread_attr_setstacksize(&attributes, 1 << 20)
  let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
  var thread = pthread_t()
  let status = pthread_create(&thread, &attributes, { raw in
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().run()
    return nil
  }, context)
  guard status == 0 else {
    Unmanaged<ThreadBody>.fromOpaque(context).release()
    return nil
  }
  return thread
}

/// Fire and forget (used for name resolution that may outlive its deadline).
@discardableResult
func startDetachedThread(_ body: @escaping @Sendable () -> Void) -> Bool {
  startThread(detached: true, body) != nil
}

/// Runs `work` on a dedicated thread and suspends (without occupying a pool thread) until it is done.
func onDedicatedThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    let started = startDetachedThread { continuation.resume(returning: work()) }
    // Out of threads: degrade to running here rather than failing the check.
    if !started { continuation.resume(returning: work()) }
  }
}

/// Runs `work` on a dedicated thread and blocks the caller until it is done (for synchronous callers,
/// so that the SIGPIPE mask never touches their thread).
func onJoinedThread<T>(_ work: @escaping () -> T) -> T {
  let slot = Slot<T>()
  guard let thread = startThread(detached: false, { slot.value = work() }) else { return work() }
  pthread_join(thread, nil)
  return slot.value!
}

private final class Slot<T> {
  var value: T?
  init() {}
}

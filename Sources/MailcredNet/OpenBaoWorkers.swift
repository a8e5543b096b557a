#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

/// Idle kept-alive connections to one OpenBao node.
final class ConnectionPool: @unchecked Sendable {
  private let lock = PthreadLock()
  private var idle: [LineConnection] = []

  func take() -> LineConnection? {
    lock.lock()
    defer { lock.unlock() }
    return idle.popLast()
  }

  func give(_ connection: LineConnection) {
    lock.lock()
    defer { lock.unlock() }
    if idle.count < 64 { idle.append(connection) }
  }
}

/// A pthread mutex (the API is shared by the threads of a concurrent search).
final class PthreadLock: @unchecked Sendable {
  private var mutex = pthread_mutex_t()
  init() { pthread_mutex_init(&mutex, nil) }
  deinit { pthread_mutex_destroy(&mutex) }
  func lock() { pthread_mutex_lock(&mutex) }
  func unlock() { pthread_mutex_unlock(&mutex) }
}

/// Requests already on a thread of ours (a concurrent search's workers) run in place; others move to a
/// joined thread with SIGPIPE blocked, as every other network call of mailcred.
func onJoinedThreadIfNeeded<T>(_ work: @escaping () -> T) -> T {
  if OpenBaoWorkers.onWorker { return work() }
  return onJoinedThread(work)
}

/// Runs `body` for every index in 0..<count on up to `width` threads (SIGPIPE blocked there); results in
/// index order. Reads of 1,000 items are then 1,000/width round trips deep instead of 1,000.
enum OpenBaoWorkers {
  private static let key: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
  }()

  static var onWorker: Bool { pthread_getspecific(key) != nil }

  static func map<T>(_ count: Int, width: Int = 16, _ body: @escaping (Int) -> T) -> [T] {
    if count == 0 { return [] }
    let results = ResultSlots<T>(count)
    let next = PthreadLock()
    var cursor = 0
    let worker = {
      pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
      while true {
        next.lock()
        let index = cursor
        cursor += 1
        next.unlock()
        guard index < count else { return }
        (results.values + index).initialize(to: body(index))
      }
    }
    var threads: [pthread_t] = []
    for _ in 0..<min(width, count) {
      if let thread = startThread(detached: false, worker) { threads.append(thread) }
    }
    if threads.isEmpty { worker() }
    for thread in threads { pthread_join(thread, nil) }
    return (0..<count).map { (results.values + $0).move() }
  }

  /// One slot per index, written by exactly one worker each: no shared Swift array mutated across threads.
  private final class ResultSlots<T> {
    let values: UnsafeMutablePointer<T>
    init(_ count: Int) { values = .allocate(capacity: count) }
    deinit { values.deallocate() }
  }
}

import Synchronization

/// How many checks may run at once: in all, and against one mailbox at one server.
///
/// The defaults (`audit`'s) are chosen for "as fast as the slowest server, and never a burst one account
/// would not see from its own mail clients":
/// - `total` 128: every credential of a large keyring starts at once (a check is one thread and one or two
///   sockets, so 128 stay well inside the default 1024 descriptors and cost ~1 MiB of stack address space
///   each, not memory).
/// - `perMailbox` 1: one login at a time per user at a server (host:port). What providers limit is per
///   account — concurrent IMAP connections (Gmail 15, Exchange Online 20, Dovecot's
///   `mail_max_userip_connections` 10 per user and address) and failed logins before a lockout — so
///   one more connection per account is what a second mail client already makes. Different users at one
///   server are not serialised: a person's handful of accounts at a provider is the whole burst it sees.
public struct CheckLimits: Sendable, Equatable {
  public static let defaultTotal = 128
  public static let defaultPerMailbox = 1

  public var total: Int
  public var perMailbox: Int

  public init(total: Int = CheckLimits.defaultTotal, perMailbox: Int = CheckLimits.defaultPerMailbox) {
    self.total = max(1, total)
    self.perMailbox = max(1, perMailbox)
  }
}

/// Admits work under `CheckLimits`, first come first served among those that may run. Waiting costs a
/// suspended task, not a thread.
public final class CheckGate: Sendable {
  private struct Waiter {
    var key: String
    var continuation: CheckedContinuation<Void, Never>
  }

  private struct State {
    var running = 0
    var byKey: [String: Int] = [:]
    var waiting: [Waiter] = []
  }

  public let limits: CheckLimits
  private let state = Mutex(State())

  public init(_ limits: CheckLimits) { self.limits = limits }

  /// The key that `perMailbox` counts: user at host:port (host names compare case-insensitively).
  public static func key(_ endpoint: Endpoint, user: String) -> String {
    "\(user) \(endpoint.host.lowercased()):\(endpoint.port)"
  }

  /// Runs `body` once admitted under `key`.
  public func run<T: Sendable>(key: String, _ body: () async -> T) async -> T {
    await admit(key)
    let value = await body()
    leave(key)
    return value
  }

  private func admit(_ key: String) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let now = state.withLock { s -> Bool in
        guard s.running < limits.total, s.byKey[key, default: 0] < limits.perMailbox else {
          s.waiting.append(Waiter(key: key, continuation: continuation))
          return false
        }
        s.running += 1
        s.byKey[key, default: 0] += 1
        return true
      }
      if now { continuation.resume() }
    }
  }

  private func leave(_ key: String) {
    let admitted = state.withLock { s -> [CheckedContinuation<Void, Never>] in
      s.running -= 1
      s.byKey[key, default: 1] -= 1
      if s.byKey[key] == 0 { s.byKey[key] = nil }
      var admitted: [CheckedContinuation<Void, Never>] = []
      var index = 0
      while index < s.waiting.count, s.running < limits.total {
        let waiter = s.waiting[index]
        if s.byKey[waiter.key, default: 0] < limits.perMailbox {
          s.running += 1
          s.byKey[waiter.key, default: 0] += 1
          admitted.append(waiter.continuation)
          s.waiting.remove(at: index)
        } else {
          index += 1
        }
      }
      return admitted
    }
    for continuation in admitted { continuation.resume() }
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProcess
import Synchronization

/// A process that holds secrets leaves no core dump and cannot be ptrace-attached by another process of
/// the same user; the programs it starts get the limits the user had.
public enum ProcessLimits {
  private static let original = Mutex<rlimit?>(nil)

  /// Non-dumpable (PR_SET_DUMPABLE 0, which exec resets for children) and RLIMIT_CORE's soft limit 0; the
  /// hard limit stays, so a child can be given the user's soft limit back.
  public static func harden() {
    var limit = rlimit()
    if getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0 {
      original.withLock { $0 = limit }
      var none = limit
      none.rlim_cur = 0
      _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
    }
    _ = mailcred_set_nondumpable()
  }

  /// Runs `start` (a posix_spawn) with the user's own core limit in place, so that the child inherits it,
  /// and lowers it again at once. The lock keeps two spawns from interleaving; this process stays
  /// non-dumpable meanwhile, which is what keeps its own memory out of a core file.
  public static func withChildLimits<T>(_ start: () -> T) -> T {
    original.withLock { saved in
      guard var user = saved else { return start() }
      _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &user)
      defer {
        var none = user
        none.rlim_cur = 0
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
      }
      return start()
    }
  }
}

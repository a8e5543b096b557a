#if canImport(Glibc)
import Glibc
#endif
import MailcredCore

/// One writer per account across every process: `flock` on `$XDG_RUNTIME_DIR/mailcred/ACCOUNT.lock` (or
/// `/tmp/mailcred-UID/` without XDG_RUNTIME_DIR). The lock goes with the process, so a killed writer never
/// leaves it held; the file stays (it holds nothing).
enum AccountFileLock {
  /// How long a writer waits for another: longer than a rotation's live check (15 s by default) with its
  /// token refresh, short enough that cron and git do not hang. MAILCRED_LOCK_TIMEOUT sets it.
  static var timeout: Double {
    getenv("MAILCRED_LOCK_TIMEOUT").flatMap { Double(String(cString: $0)) }.flatMap { $0 > 0 ? $0 : nil } ?? 60
  }

  static let locker = AccountLocker { account throws(MailcredError) in try acquire(account: account, timeout: timeout) }

  static func acquire(account: String, timeout: Double) throws(MailcredError) -> AccountLocker.Release {
    let directory = try lockDirectory()
    // Account names are validated (letters, digits, . _ - @ +; no slash) before any write reaches here.
    let path = "\(directory)/\(account).lock"
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { throw .configuration("cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
    let started = monotonicSeconds()
    while flock(fd, LOCK_EX | LOCK_NB) != 0 {
      guard errno == EWOULDBLOCK || errno == EINTR else {
        let why = String(cString: strerror(errno))
        close(fd)
        throw .configuration("cannot lock \(path): \(why)")
      }
      if monotonicSeconds() - started > timeout {
        close(fd)
        throw .accountBusy(account, Int(timeout.rounded()))
      }
      usleep(5_000)
    }
    return {
      flock(fd, LOCK_UN)
      close(fd)
    }
  }

  /// A directory only we can write to. XDG_RUNTIME_DIR is private by specification; the /tmp fallback is
  /// created 0700 and checked (owner, mode, not a symlink), since anyone can create names in /tmp.
  private static func lockDirectory() throws(MailcredError) -> String {
    let base = getenv("XDG_RUNTIME_DIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    let directory = base.map { "\($0)/mailcred" } ?? "/tmp/mailcred-\(getuid())"
    if mkdir(directory, 0o700) != 0 && errno != EEXIST {
      throw .configuration("cannot create \(directory): \(String(cString: strerror(errno)))")
    }
    var info = stat()
    guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
      info.st_mode & 0o077 == 0
    else { throw .configuration("\(directory) is not a private directory of this user: refusing to put a lock file there") }
    return directory
  }

  private static func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
  }
}

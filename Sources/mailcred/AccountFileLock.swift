#if canImport(Glibc)
import Glibc
#endif
import MailcredCore
import MailcredSpelling
import MailcredSystem

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
    let fd: Int32
    do { fd = try openFile(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode: 0o600) } catch {
      throw .configuration("cannot open the lock file \(path): \(error.text)")
    }
    let started = monotonicSeconds()
    while true {
      do {
        try nothingOrErrno { flock(fd, LOCK_EX | LOCK_NB) }
        break
      } catch where error == .wouldBlock {
        if monotonicSeconds() - started > timeout {
          closeFile(fd)
          throw .accountBusy(account, Int(timeout.rounded()))
        }
        usleep(5_000)
      } catch {
        closeFile(fd)
        throw .configuration("cannot lock \(path): \(error.text)")
      }
    }
    return {
      flock(fd, LOCK_UN)
      closeFile(fd)
    }
  }

  /// A directory only we can write to. XDG_RUNTIME_DIR is private by specification; the /tmp fallback is
  /// created 0700 and checked (owner, mode, not a symlink), since anyone can create names in /tmp.
  private static func lockDirectory() throws(MailcredError) -> String {
    let base = getenv("XDG_RUNTIME_DIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    let directory = base.map { "\($0)/mailcred" } ?? "/tmp/mailcred-\(getuid())"
    do { try makeDirectory(directory, mode: 0o700) } catch where error == .exists {} catch {
      throw .configuration("cannot create \(directory): \(error.text)")
    }
    guard let info = try? linkStatus(directory), info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
      info.st_mode & 0o077 == 0
    else { throw .configuration("\(directory) is not a private directory of this user: refusing to put a lock file there") }
    return directory
  }
}

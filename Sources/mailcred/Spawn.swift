#if canImport(Glibc)
import Glibc
#endif
import MailcredSystem

// Every program mailcred starts (notify-send, xdg-open, mbsync --version, git config) goes through here.
// None is ever given a secret. A child starts with the default signal dispositions and an empty signal
// mask — mailcred ignores SIGPIPE and a parent may have blocked signals, neither of which is the child's
// business — and every child is reaped.

/// Runs a program found on PATH and waits; false when it cannot start or does not exit 0.
func spawnAndWait(_ program: String, _ arguments: [String]) -> Bool {
  guard let pid = spawn(program, arguments, stdout: nil) else { return false }
  return reap(pid) == 0
}

/// The stdout of a program found on PATH, at most 64 KiB; nil when it cannot start or does not exit 0.
func captureOutput(_ program: String, _ arguments: [String]) -> String? {
  var pipeFDs: [Int32] = [0, 0]
  guard (try? nothingOrErrno({ pipe(&pipeFDs) })) != nil else { return nil }
  // Close-on-exec: no other child may hold the write end open (the dup onto fd 1 is the child's own).
  for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
  let pid = spawn(program, arguments, stdout: pipeFDs[1])
  close(pipeFDs[1])
  defer { close(pipeFDs[0]) }
  guard let pid else { return nil }
  var output: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 4096)
  while output.count < 65536 {
    let n = (try? chunk.withUnsafeMutableBytes { raw in Result { () throws(Errno) in try readSome(pipeFDs[0], into: raw) } }.get()) ?? 0
    if n == 0 { break }
    output += chunk[..<n]
  }
  return reap(pid) == 0 ? String(decoding: output, as: UTF8.self) : nil
}

/// Starts a program (xdg-open) without waiting: some browsers stay in the foreground of their opener. A
/// thread reaps it whenever it ends, so no zombie outlives a long `authorize`.
func spawnDetached(_ program: String, _ arguments: [String]) -> Bool {
  guard let pid = spawn(program, arguments, stdout: nil) else { return false }
  var thread = pthread_t()
  let box = UnsafeMutablePointer<pid_t>.allocate(capacity: 1)
  box.initialize(to: pid)
  let started = pthread_create(&thread, nil, { raw in
    let pid = raw!.assumingMemoryBound(to: pid_t.self)
    _ = reap(pid.pointee)
    pid.deallocate()
    return nil
  }, box)
  if started == 0 { pthread_detach(thread) } else { box.deallocate() }
  return true
}

/// posix_spawnp with the defaults restored for the child; stdout optionally onto `stdout`, stderr to
/// /dev/null when stdout is captured (a tool's chatter is not ours to show).
private func spawn(_ program: String, _ arguments: [String], stdout: Int32?) -> pid_t? {
  var attributes = posix_spawnattr_t()
  posix_spawnattr_init(&attributes)
  defer { posix_spawnattr_destroy(&attributes) }
  var empty = sigset_t()
  sigemptyset(&empty)
  posix_spawnattr_setsigmask(&attributes, &empty)
  var defaults = sigset_t()
  sigemptyset(&defaults)
  for number in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&defaults, number) }
  posix_spawnattr_setsigdefault(&attributes, &defaults)
  posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  if let stdout {
    posix_spawn_file_actions_adddup2(&actions, stdout, STDOUT_FILENO)
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
  }
  var pid: pid_t = 0
  let argv = ([program] + arguments).map { strdup($0) } + [nil]
  defer { for pointer in argv { free(pointer) } }
  // The child gets the user's core-file limit back (this process keeps its own at 0).
  let status = ProcessLimits.withChildLimits { posix_spawnp(&pid, program, &actions, &attributes, argv, environ) }
  return status == 0 ? pid : nil
}

/// Waits for `pid`; its exit status, or -1 when it was killed or cannot be waited for (never "success").
private func reap(_ pid: pid_t) -> Int32 {
  var status: Int32 = 0
  guard case .success(pid) = valueOrErrno({ waitpid(pid, &status, 0) }) else { return -1 }
  // WIFEXITED / WEXITSTATUS, which Swift cannot import as macros.
  return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
}

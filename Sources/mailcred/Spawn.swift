#if canImport(Glibc)
import Glibc
#endif

/// Runs a program found on PATH with arguments (never a secret) and waits; false when it cannot start.
func spawnAndWait(_ program: String, _ arguments: [String]) -> Bool {
  var pid: pid_t = 0
  let argv = ([program] + arguments).map { strdup($0) } + [nil]
  defer { for pointer in argv { free(pointer) } }
  guard posix_spawnp(&pid, program, nil, nil, argv, environ) == 0 else { return false }
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  return status == 0
}

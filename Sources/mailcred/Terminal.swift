#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProcess
import MailcredCore

// Everything that touches the terminal and the standard streams. Secrets are written with write(2) from
// their own buffer, never through print() (which would copy them into Swift's String buffers).

enum Terminal {
  static var stdinIsTTY: Bool { isatty(STDIN_FILENO) == 1 }
  static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }
  static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }

  /// A process that holds secrets leaves no core dump and cannot be ptrace-attached by another process of
  /// the same user (prctl PR_SET_DUMPABLE 0).
  static func hardenProcess() {
    _ = mailcred_disable_core_dumps()
    signal(SIGPIPE, SIG_IGN)
  }

  static func writeError(_ line: String) {
    writeAll(STDERR_FILENO, Array((line.hasSuffix("\n") ? line : line + "\n").utf8))
  }

  static func writeOut(_ text: String) {
    writeAll(STDOUT_FILENO, Array(text.utf8))
  }

  /// The secret followed by a newline, in one write when possible.
  static func writeSecretLine(_ secret: SecretBytes) -> Bool {
    var line = secret.withUnsafeBytes { Array($0) }
    line.append(0x0a)
    defer { wipe(&line) }
    return writeAll(STDOUT_FILENO, line)
  }

  @discardableResult
  static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
      let written = bytes.withUnsafeBytes { raw in
        write(fd, raw.baseAddress! + offset, raw.count - offset)
      }
      if written < 0 {
        if errno == EINTR { continue }
        return false
      }
      offset += written
    }
    return true
  }

  /// One line from stdin (the `--password-stdin` contract): up to 64 KiB, newline (and a CR before it)
  /// removed. Reads byte by byte so that nothing past the line is consumed.
  static func readSecretLine(fd: Int32 = STDIN_FILENO) throws(InputError) -> SecretBytes {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(256)
    var byte: UInt8 = 0
    while true {
      let n = read(fd, &byte, 1)
      if n < 0 {
        if errno == EINTR { continue }
        wipe(&bytes)
        throw .usage("cannot read the secret from standard input")
      }
      if n == 0 || byte == 0x0a { break }
      bytes.append(byte)
      if bytes.count > 65536 {
        wipe(&bytes)
        throw .secret("the secret line on standard input is longer than 64 KiB: nothing stored")
      }
    }
    byte = 0
    if bytes.last == 0x0d { bytes.removeLast() }
    return SecretBytes(taking: bytes)
  }

  /// Prompts on the controlling terminal with echo off. Twice when `confirm`, refusing a mismatch.
  static func promptSecret(_ prompt: String, confirm: Bool) throws(InputError) -> SecretBytes {
    let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else {
      throw .usage("no terminal to prompt on: pass the secret on standard input with --password-stdin")
    }
    defer { close(fd) }
    let first = try readHidden(fd: fd, prompt: prompt)
    guard confirm else { return first }
    let second = try readHidden(fd: fd, prompt: "Again: ")
    guard first == second else { throw .secret("the two entries differ: nothing stored") }
    return first
  }

  private static func readHidden(fd: Int32, prompt: String) throws(InputError) -> SecretBytes {
    // Echo goes off before the prompt appears: whatever is typed once the prompt is visible is never
    // shown (and nothing typed is flushed away after the prompt, as TCSAFLUSH would).
    var saved = termios()
    let haveTermios = tcgetattr(fd, &saved) == 0
    if haveTermios {
      // Ctrl-C, a closed terminal or a kill while echo is off must not leave the user's terminal mute.
      EchoRestore.arm(fd: fd, saved: saved)
      var quiet = saved
      quiet.c_lflag &= ~tcflag_t(ECHO)
      quiet.c_lflag |= tcflag_t(ECHONL)
      _ = tcsetattr(fd, TCSAFLUSH, &quiet)
    }
    defer {
      if haveTermios {
        _ = tcsetattr(fd, TCSANOW, &saved)
        EchoRestore.disarm()
      }
    }
    writeAll(fd, Array(prompt.utf8))
    return try readSecretLine(fd: fd)
  }

  /// A yes/no question on the terminal; false when there is none.
  static func confirm(_ question: String) -> Bool {
    let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    writeAll(fd, Array("\(question) [y/N] ".utf8))
    var answer: [UInt8] = []
    var byte: UInt8 = 0
    while read(fd, &byte, 1) == 1, byte != 0x0a, answer.count < 16 { answer.append(byte) }
    return answer.first == UInt8(ascii: "y") || answer.first == UInt8(ascii: "Y")
  }

  static var basenameOfArgv0: String {
    let path = CommandLine.arguments.first ?? "mailcred"
    return path.split(separator: "/").last.map(String.init) ?? path
  }
}

/// Restores the terminal's saved settings when SIGINT, SIGTERM or SIGHUP arrives during a hidden prompt,
/// then lets the signal do what it would have done (the process ends with it). A signal handler may only
/// use async-signal-safe calls and no Swift captures: the state lives in globals set before echo goes off.
private enum EchoRestore {
  nonisolated(unsafe) static var fd: Int32 = -1
  nonisolated(unsafe) static var saved = termios()
  static let signals = [SIGINT, SIGTERM, SIGHUP]

  static func arm(fd: Int32, saved: termios) {
    Self.saved = saved
    Self.fd = fd
    for number in signals {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { number in
        if EchoRestore.fd >= 0 { _ = tcsetattr(EchoRestore.fd, TCSANOW, &EchoRestore.saved) }
        signal(number, SIG_DFL)
        raise(number)
      }
      sigemptyset(&action.sa_mask)
      action.sa_flags = 0
      sigaction(number, &action, nil)
      // A parent (a test runner, a service manager) may have blocked them: a prompt must be interruptible.
      var set = sigset_t()
      sigemptyset(&set)
      sigaddset(&set, number)
      pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
  }

  static func disarm() {
    fd = -1
    for number in signals { signal(number, SIG_DFL) }
  }
}

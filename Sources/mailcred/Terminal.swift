#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore
import MailcredSpelling
import MailcredSystem

// Everything that touches the terminal and the standard streams. Secrets are written with write(2) from
// their own buffer, never through print() (which would copy them into Swift's String buffers).

enum Terminal {
  static var stdinIsTTY: Bool { isatty(STDIN_FILENO) == 1 }
  static var stdoutIsTTY: Bool { isatty(STDOUT_FILENO) == 1 }
  static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }

  /// A process that holds secrets leaves no core dump and cannot be ptrace-attached by another process of
  /// the same user; a write to a closed pipe is an error, not a signal.
  static func hardenProcess() {
    ProcessLimits.harden()
    signal(SIGPIPE, SIG_IGN)
  }

  static func writeError(_ line: String) {
    writeAll(STDERR_FILENO, line.hasSuffix("\n") ? line : line + "\n")
  }

  static func writeOut(_ text: String) {
    writeAll(STDOUT_FILENO, text)
  }

  /// The secret followed by a newline, in one write (one buffer of the exact size, wiped).
  static func writeSecretLine(_ secret: SecretBytes) -> Bool {
    var line = SecretBuffer(capacity: secret.count + 1)
    line.append(secret)
    line.append(0x0a)
    return writeAll(STDOUT_FILENO, line.finish())
  }

  /// Writes a secret's bytes (the caller wipes it).
  @discardableResult
  static func writeAll(_ fd: Int32, _ secret: SecretBytes) -> Bool {
    secret.withUnsafeBytes { raw in (try? MailcredSystem.writeAll(fd, raw)) != nil }
  }

  @discardableResult
  static func writeAll(_ fd: Int32, _ text: String) -> Bool {
    var text = text
    return text.withUTF8 { raw in (try? MailcredSystem.writeAll(fd, UnsafeRawBufferPointer(raw))) != nil }
  }

  /// The longest line `readSecretLine` takes.
  static let secretLineLimit = 65536

  /// One line from stdin (the `--password-stdin` contract): up to 64 KiB, newline (and a CR before it)
  /// removed. Reads byte by byte so that nothing past the line is consumed, into one buffer of the limit's
  /// size: it never grows, so no partial copy is left in freed memory.
  static func readSecretLine(fd: Int32 = STDIN_FILENO) throws(InputError) -> SecretBytes {
    var line = SecretBuffer(capacity: secretLineLimit + 1)
    while true {
      let byte: UInt8?
      do { byte = try readByte(fd) } catch { throw .usage("cannot read the secret from standard input (\(error.text))") }
      guard let byte, byte != 0x0a else { break }
      line.append(byte)
      if line.count > secretLineLimit {
        throw .secret("the secret line on standard input is longer than 64 KiB: nothing stored")
      }
    }
    if line.withUnsafeBytes({ $0.last }) == 0x0d { line.removeLast() }
    return line.finish()
  }

  /// Prompts on the controlling terminal with echo off. Twice when `confirm`, refusing a mismatch.
  static func promptSecret(_ prompt: String, confirm: Bool) throws(InputError) -> SecretBytes {
    let fd: Int32
    do { fd = try openFile("/dev/tty", O_RDWR | O_CLOEXEC) } catch {
      throw .usage("no terminal to prompt on: pass the secret on standard input with --password-stdin")
    }
    defer { closeFile(fd) }
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
    writeAll(fd, prompt)
    return try readSecretLine(fd: fd)
  }

  /// A yes/no question on the terminal; false when there is none.
  static func confirm(_ question: String) -> Bool {
    guard let fd = try? openFile("/dev/tty", O_RDWR | O_CLOEXEC) else { return false }
    defer { closeFile(fd) }
    writeAll(fd, "\(question) [y/N] ")
    var answer: [UInt8] = []
    while let byte = try? readByte(fd), byte != 0x0a, answer.count < 16 { answer.append(byte) }
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

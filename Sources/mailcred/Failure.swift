import ArgumentParser
import MailcredCore

/// Prints `mailcred: MESSAGE` on stderr and returns the exit status to throw. Every command reports errors
/// through here so that each failure is exactly one line.
func fail(_ error: MailcredError) -> ExitCode {
  Terminal.writeError("mailcred: \(error.description)")
  return ExitCode(error.exitStatus.rawValue)
}

func fail(_ error: InputError) -> ExitCode { fail(.input(error)) }

func warn(_ message: String) {
  Terminal.writeError("mailcred: warning: \(message)")
}

func note(_ message: String) {
  Terminal.writeError("mailcred: \(message)")
}

/// Runs a throwing body, turning mailcred's errors into a one-line message and exit status.
func reporting<T>(_ body: () throws(MailcredError) -> T) throws(ExitCode) -> T {
  do { return try body() } catch { throw fail(error) }
}

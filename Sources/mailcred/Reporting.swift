import ArgumentParser
import MailcredCore
import MailcredSpelling

// The one place where errors become text and exit statuses. Commands throw; `Mailcred.main` (and the two
// paths that skip the argument parser, `get` and the git helper's `get`) call `report`.

/// Prints `mailcred: MESSAGE` on stderr for a mailcred error and returns its exit status; nil for an error
/// that is not mailcred's (the argument parser's own, rendered by it).
func report(_ error: any Error) -> Int32? {
  switch error {
  case let error as any ReportableError:
    Terminal.writeError("mailcred: \(error.text)")
    return error.exitStatus.rawValue
  case let code as ExitCode:
    // A status whose reason was already printed as output (a check's result lines, doctor's findings).
    return code.rawValue
  default:
    return nil
  }
}

func warn(_ message: String) {
  Terminal.writeError("mailcred: warning: \(message)")
}

func note(_ message: String) {
  Terminal.writeError("mailcred: \(message)")
}

/// Standard output went away (a closed pipe, a full disk): the secret or the report did not arrive.
let cannotWriteOutput = MailcredError.configuration("cannot write to standard output")

func warn(_ advice: Advice) { warn(advice.text) }

func note(_ advice: Advice) { note(advice.text) }

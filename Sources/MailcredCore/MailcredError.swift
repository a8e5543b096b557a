/// Every failure a mailcred command reports: one line of text and one exit status.
public enum MailcredError: Error, Sendable, CustomStringConvertible {
  case input(InputError)
  case keyring(KeyringError)
  case noSuchAccount(String)
  case accountExists(String)
  /// A state the user must settle first (a pending rotation, an erased credential, ...).
  case conflict(String, ExitStatus)
  /// A live check refused the secret or could not be made.
  case check(CheckResult)
  case configuration(String)

  public var description: String {
    switch self {
    case .input(let error): return error.description
    case .keyring(let error): return error.description
    case .noSuchAccount(let account): return "no such account '\(printable(account))' (see `mailcred list`)"
    case .accountExists(let account):
      return "account '\(printable(account))' already exists — use --replace to overwrite it, or `mailcred rotate`"
    case .conflict(let message, _): return message
    case .check(let result):
      return "\(result.endpoint.proto.rawValue) \(result.endpoint.hostAndPort): \(result.verdict.rawValue): \(result.detail)"
    case .configuration(let message): return message
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .input(let error): return error.exitStatus
    case .keyring(let error): return error.exitStatus
    case .noSuchAccount: return .noSuchAccount
    case .accountExists: return .dataError
    case .conflict(_, let status): return status
    case .check(let result): return result.verdict.exitStatus
    case .configuration: return .configurationError
    }
  }
}

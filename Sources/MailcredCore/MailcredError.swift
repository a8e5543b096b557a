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
  /// Another writer held the account's lock for longer than the wait (seconds).
  case accountBusy(String, Int)
  /// A delete that would leave the account without a current secret (only `remove` may).
  case lastCurrent(String)
  /// Another writer rotated or replaced the account while this rotation waited for its lock: nothing was
  /// changed (two admins rotating at once: the first wins, the second must look before trying again).
  case changedMeanwhile(String)
  /// `restore --previous` on a store that keeps no deleted secrets (the Secret Service).
  case noHistory(String)
  /// `restore --previous`: the store keeps history, but no earlier current secret of the account.
  case noEarlierSecret(String)

  public var description: String {
    switch self {
    case .noHistory(let account):
      return "this store keeps no earlier secrets of '\(printable(account))' (the Secret Service deletes for good) "
        + "— `restore --previous` needs an OpenBao/Vault store"
    case .noEarlierSecret(let account):
      return "account '\(printable(account))' has no earlier secret in the store's history — nothing changed"
    case .changedMeanwhile(let account):
      return "account '\(printable(account))' was rotated or replaced by another writer while this rotation waited "
        + "— nothing changed; see `mailcred show \(printable(account))` and rotate again if still needed"
    case .input(let error): return error.description
    case .keyring(let error): return error.description
    case .noSuchAccount(let account): return "no such account '\(printable(account))' (see `mailcred list`)"
    case .accountExists(let account):
      return "account '\(printable(account))' already exists — use --replace to overwrite it, or `mailcred rotate`"
    case .conflict(let message, _): return message
    case .check(let result):
      return "\(result.endpoint.proto.rawValue) \(result.endpoint.hostAndPort): \(result.verdict.rawValue): \(result.detail)"
    case .configuration(let message): return message
    case .accountBusy(let account, let seconds):
      return "another mailcred has been writing account '\(printable(account))' for \(seconds) s "
        + "(MAILCRED_LOCK_TIMEOUT sets the wait) — nothing changed; try again"
    case .lastCurrent(let account):
      return "refusing to delete the last current secret of '\(printable(account))' (another program changed it "
        + "meanwhile) — nothing deleted; `mailcred remove \(printable(account))` removes the account"
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
    case .accountBusy, .lastCurrent, .changedMeanwhile: return .temporaryFailure
    case .noHistory: return .usage
    case .noEarlierSecret: return .dataError
    }
  }
}

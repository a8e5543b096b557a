/// An error a command reports: one line of advice and one exit status. Commands throw it; `main` renders
/// every one of them in one place (`mailcred: TEXT`, exit STATUS), spelling the advice's commands.
public protocol ReportableError: Error {
  var message: Advice { get }
  var exitStatus: ExitStatus { get }
}

extension ReportableError where Self: CustomStringConvertible {
  /// An error whose text names no command or option (a network failure, ...).
  public var message: Advice { Advice(description) }
}

/// Every failure of mailcred's own logic, each case one situation (its text and exit status below).
public enum MailcredError: ReportableError, Sendable {
  case input(InputError)
  case keyring(KeyringError)
  case noSuchAccount(String)
  case accountExists(String)
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

  // Rotation
  /// A pending item or two current items are left from a rotation that did not finish.
  case interruptedRotation(String)
  /// Only a pending item is left: nothing current to hand out.
  case onlyPending(String)
  /// `rotate --resume` / `--abort` with nothing to settle.
  case noInterruptedRotation(String, RotationStep)
  case sameSecret
  /// The pending item vanished between storing and promoting it (another program deleted it).
  case pendingVanished(String)
  /// `rotate` of a credential that is replaced otherwise (an oauth2 grant, a git credential).
  case notRotatable(String, CredentialKind)

  // Erase and restore
  case erasedByGit(String)
  case restoreOverCurrent(String)
  case nothingErased(String)

  // The git helper
  case noFreeName(String)
  /// The git helper's input was not a credential message (65, as git's own helpers).
  case badHelperInput(String)

  // OAuth2
  /// A grant whose access token could not be had (`get`, the git helper).
  indirect case oauth(OAuthFailure, account: String)
  case noRefreshToken
  /// `authorize`: a step of the flow (the authorization, the token endpoint) failed.
  indirect case authorization(OAuthFailure, step: String)

  /// A new secret that a server refused: it was not stored (the check's lines are already printed).
  case rejectedNotStored(CheckClass, what: String)
  /// A rotation's new secret that a server refused: the current one stays.
  case rotationRejected(String)
  /// A new secret that could not be verified now: the current one stays.
  case notVerified(String, CheckClass)

  public enum RotationStep: String, Sendable { case resume, abort }

  public var message: Advice {
    switch self {
    case .noHistory(let account):
      return "this store keeps no earlier secrets of '\(printable(account))' (the Secret Service deletes for good) "
        + "— `\(command: .init(.restore, nil, [.previous]))` needs an OpenBao/Vault store"
    case .noEarlierSecret(let account):
      return "account '\(printable(account))' has no earlier secret in the store's history — nothing changed"
    case .changedMeanwhile(let account):
      return "account '\(printable(account))' was rotated or replaced by another writer while this rotation waited "
        + "— nothing changed; see `\(command: .show(printable(account)))` and rotate again if still needed"
    case .input(let error): return error.message
    case .keyring(let error): return error.message
    case .noSuchAccount(let account): return "no such account '\(printable(account))' (see `\(command: .list)`)"
    case .accountExists(let account):
      return "account '\(printable(account))' already exists — use \(option: .replace) to overwrite it, or `\(command: .rotateAny)`"
    case .check(let result):
      return "\(result.endpoint.proto.rawValue) \(result.endpoint.hostAndPort): \(result.verdict.rawValue): \(result.detail)"
    case .configuration(let message): return Advice(message)
    case .accountBusy(let account, let seconds):
      return "another mailcred has been writing account '\(printable(account))' for \(seconds) s "
        + "(MAILCRED_LOCK_TIMEOUT sets the wait) — nothing changed; try again"
    case .lastCurrent(let account):
      return "refusing to delete the last current secret of '\(printable(account))' (another program changed it "
        + "meanwhile) — nothing deleted; `\(command: .remove(printable(account)))` removes the account"
    case .interruptedRotation(let account):
      return "an earlier rotation of \(printable(account)) was interrupted — `\(command: .rotate(printable(account), .resume))` finishes it, `\(option: .abort)` undoes it"
    case .onlyPending(let account):
      return "account '\(printable(account))' has only a pending rotation — run `\(command: .rotate(printable(account), .resume))` or `\(option: .abort)`"
    case .noInterruptedRotation(let account, let step):
      return "no interrupted rotation of '\(printable(account))' to \(step.rawValue)"
    case .sameSecret: return "the new secret is the same as the current one: nothing changed"
    case .pendingVanished(let account): return "the pending item of '\(printable(account))' disappeared during the rotation"
    case .notRotatable(let account, .oauth2):
      return "\(printable(account)) is an OAuth2 credential: `\(command: .authorize(printable(account)))` replaces its grant"
    case .notRotatable(let account, _):
      return "\(printable(account)) is a git credential: git stores its new password itself the next time it asks (or `\(command: .remove(printable(account)))`)"
    case .erasedByGit(let account):
      return "account '\(printable(account))' was erased by a git credential helper call — `\(command: .restore(printable(account)))` brings it back"
    case .restoreOverCurrent(let account):
      return "account '\(printable(account))' already has a current secret; nothing to restore (remove it first to restore the erased one)"
    case .nothingErased(let account): return "account '\(printable(account))' has no erased secret to restore"
    case .noFreeName(let name): return "cannot name a new credential for \(name): every candidate name is taken"
    case .badHelperInput(let reason): return Advice(reason)
    case .oauth(let failure, let account): return failure.message(account: account)
    case .noRefreshToken:
      return "the provider issued no refresh token, so mailcred could not renew access: request offline access "
        + "(Microsoft: scope offline_access; Google: the gmail preset asks for access_type=offline)"
    case .authorization(.refused(let error, _), _) where error == "access_denied": return "the authorization was declined (access_denied)"
    case .authorization(let failure, let step):
      if case .refused = failure { return "\(step) refused: \(failure.message)" }
      return failure.message
    case .rejectedNotStored(_, let what): return "not stored: \(what)"
    case .rotationRejected(let account): return "the new secret was rejected; the current secret of \(printable(account)) is unchanged"
    case .notVerified(let account, _):
      return "could not verify the new secret now; the current secret of \(printable(account)) is unchanged — retry later, or use \(option: .noCheck)"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .input(let error): return error.exitStatus
    case .keyring(let error): return error.exitStatus
    case .noSuchAccount, .erasedByGit: return .noSuchAccount
    case .accountExists, .noInterruptedRotation, .sameSecret, .notRotatable, .restoreOverCurrent, .nothingErased, .noFreeName,
      .badHelperInput:
      return .dataError
    case .check(let result): return result.verdict.exitStatus
    case .configuration: return .configurationError
    case .accountBusy, .lastCurrent, .interruptedRotation, .onlyPending, .pendingVanished, .changedMeanwhile: return .temporaryFailure
    case .oauth(let failure, _), .authorization(let failure, _): return failure.exitStatus
    case .noRefreshToken: return .protocolError
    case .rotationRejected: return .authenticationRejected
    case .rejectedNotStored(let verdict, _), .notVerified(_, let verdict): return verdict.exitStatus
    case .noHistory: return .usage
    case .noEarlierSecret: return .dataError
    }
  }
}

extension InputError: ReportableError {}
extension KeyringError: ReportableError {}
extension OAuthFailure: ReportableError {}

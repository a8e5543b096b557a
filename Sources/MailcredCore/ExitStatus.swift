/// Process exit statuses, from sysexits(3) as msmtp uses them (DESIGN.md "Exit status").
public enum ExitStatus: Int32, Sendable, Comparable {
  case ok = 0
  case usage = 64
  case dataError = 65
  case noSuchAccount = 67
  case keyringUnavailable = 69
  case temporaryFailure = 75
  case protocolError = 76
  case authenticationRejected = 77
  case configurationError = 78

  /// How bad an outcome is when several are folded into one status (audit, check --all):
  /// 77 over 76 over 75, and anything else non-zero above ok.
  var severity: Int {
    switch self {
    case .ok: return 0
    case .temporaryFailure: return 1
    case .protocolError: return 2
    case .authenticationRejected: return 3
    default: return 4
    }
  }

  public static func < (lhs: ExitStatus, rhs: ExitStatus) -> Bool { lhs.severity < rhs.severity }
}

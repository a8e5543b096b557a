#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `audit --format nagios`: a Nagios/Icinga plugin's output (Nagios Plugin Development Guidelines): one
/// status line `MAILCRED STATE - summary | perfdata`, then one line per problem (long output), and the
/// plugin exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
///
/// CRITICAL: a secret the server rejected (any 77 class), an expired credential, or one expiring within
/// `critDays`. WARNING: a credential that could not be checked (75/76: the server or the network is at
/// fault, not known to be the secret — the mail server's own service checks page for that), one expiring
/// within `warnDays`, a Microsoft grant idle past 80 days, an interrupted rotation. UNKNOWN: the audit could
/// not run at all (the keyring is unavailable or locked) — see `unknown(_:)`.
public struct NagiosReport: Sendable, Equatable {
  public enum State: Int32, Sendable, Comparable {
    case ok = 0, warning = 1, critical = 2, unknown = 3
    public var word: String { ["OK", "WARNING", "CRITICAL", "UNKNOWN"][Int(rawValue)] }
    public static func < (a: State, b: State) -> Bool { a.rawValue < b.rawValue }
  }

  public var state: State
  /// The whole output: the status line, then the long output lines, each ending in LF.
  public var text: String

  public static let defaultCriticalDays = 3

  /// The audit could not run; `reason` is the one-line error.
  public static func unknown(_ reason: String) -> NagiosReport {
    NagiosReport(state: .unknown, text: "MAILCRED UNKNOWN - \(clean(reason))\n")
  }

  public init(state: State, text: String) {
    self.state = state
    self.text = text
  }

  /// `speller` writes the commands the problem lines name (rotate, authorize, ...).
  public init(_ rows: [AuditRow], now: Date, warnDays: Int, critDays: Int, offline: Bool, speller: some AdviceSpeller) {
    var counts = (ok: 0, rejected: 0, expired: 0, expiring: 0, unverified: 0, idle: 0)
    var state = State.ok
    var problems: [Advice] = []
    var soonest: Int?
    var idleMost = 0
    var interrupted = false
    for row in rows where row.credential.state == .current {
      let c = row.credential
      var rowState = State.ok
      let rejected = row.checks.filter(\.verdict.isRejection)
      let unverified = row.checks.filter { $0.verdict != .ok && !$0.verdict.isRejection }
      for check in rejected + unverified {
        problems.append("\(c.account): \(check.endpoint.proto.rawValue) \(check.verdict.rawValue): \(check.detail)")
      }
      if !rejected.isEmpty {
        counts.rejected += 1
        rowState = .critical
      } else if !unverified.isEmpty {
        counts.unverified += 1
        rowState = .warning
      }
      switch row.expiry {
      case .expired:
        counts.expired += 1
        rowState = .critical
      case .expiresSoon(let days):
        counts.expiring += 1
        soonest = min(soonest ?? days, days)
        rowState = max(rowState, days <= critDays ? .critical : .warning)
      default: break
      }
      if let advice = row.expiryAdvice { problems.append("\(c.account): \(advice)") }
      if let days = row.grantIdleDays, let warning = OAuthGrantAge.warning(c, now: now) {
        counts.idle += 1
        idleMost = max(idleMost, days)
        rowState = max(rowState, .warning)
        problems.append("\(c.account): warning: \(warning)")
      }
      if let advice = row.interruptedAdvice {
        rowState = max(rowState, .warning)
        interrupted = true
        problems.append("\(c.account): \(advice)")
      }
      if rowState == .ok { counts.ok += 1 }
      state = max(state, rowState)
    }
    // An account with two current items (an interrupted rotation) names its problem once.
    var named: Set<String> = []
    let lines = problems.map { $0.spelled(by: speller) }.filter { named.insert($0).inserted }

    var summary: [String] = []
    if counts.rejected > 0 { summary.append("\(counts.rejected) rejected") }
    if counts.expired > 0 { summary.append("\(counts.expired) expired") }
    if counts.expiring == 1, let soonest {
      summary.append("1 expires " + (soonest == 0 ? "today" : "in \(soonest) day\(soonest == 1 ? "" : "s")"))
    } else if counts.expiring > 1, let soonest {
      summary.append("\(counts.expiring) expire within \(warnDays) days (first in \(soonest))")
    }
    if counts.unverified > 0 { summary.append("\(counts.unverified) could not be checked") }
    if counts.idle > 0 { summary.append("\(counts.idle) OAuth2 grant\(counts.idle == 1 ? "" : "s") idle \(idleMost) days") }
    if interrupted { summary.append("interrupted rotation") }
    if summary.isEmpty {
      summary.append(counts.ok == 0 ? "no credentials stored" : "\(counts.ok) credential\(counts.ok == 1 ? "" : "s") ok")
    } else if counts.ok > 0 {
      summary.append("\(counts.ok) ok")
    }
    if offline { summary.append("offline: expiry dates only") }

    // Perfdata: every label every time (graphs need stable series), min 0; the ranges say when each count
    // alerts: rejected and expired are critical above 0, the others warn above 0.
    let perfdata = [
      "ok=\(counts.ok);;;0", "rejected=\(counts.rejected);;0;0", "expired=\(counts.expired);;0;0",
      "expiring=\(counts.expiring);0;;0", "unverified=\(counts.unverified);0;;0", "idle_grants=\(counts.idle);0;;0",
    ].joined(separator: " ")
    var text = "MAILCRED \(state.word) - \(Self.clean(summary.joined(separator: ", "))) | \(perfdata)\n"
    for problem in lines { text += Self.clean(problem) + "\n" }
    self.init(state: state, text: text)
  }

  /// One line without `|`: in plugin output a pipe starts performance data, in long output too, so a server
  /// reply that contains one must not.
  static func clean(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      if scalar == "|" {
        out += "/"
      } else if scalar.value < 0x20 || scalar.value == 0x7f {
        out += " "
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }
}

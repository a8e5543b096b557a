#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One credential's line in an audit: its expiry and the checks of its endpoints.
public struct AuditRow: Sendable {
  public var credential: Credential
  public var expiry: ExpiryStatus
  public var checks: [CheckResult]
  /// The account has a leftover of an interrupted rotation (a pending item, or two current items).
  public var interruptedRotation: Bool
  /// What the user must do about it, if anything.
  public var attention: Attention
  /// An oauth2 grant's last refresh as of the end of the audit (nil for other kinds).
  public var lastRefresh: Date? = nil
  /// Days without a refresh of a Microsoft grant past `OAuthGrantAge.microsoftWarningDays` (a warning).
  public var grantIdleDays: Int? = nil

  public enum Attention: Int, Sendable, Comparable {
    case none = 0
    case warning = 1  // expiring soon, pending or erased item, interrupted rotation, a kind the provider refuses
    case failing = 2  // expired, or a check that did not authenticate

    public static func < (a: Attention, b: Attention) -> Bool { a.rawValue < b.rawValue }
  }

  /// The exit status this row alone would give.
  public var exitStatus: ExitStatus {
    let checkStatus = checks.map(\.verdict.exitStatus).max() ?? .ok
    if case .expired = expiry, credential.state == .current {
      // An expired secret needs rotating whether or not the server still takes it.
      return max(checkStatus, .authenticationRejected)
    }
    return checkStatus
  }

  public var worstCheck: CheckClass? { checks.map(\.verdict).max { $0.exitStatus < $1.exitStatus } }
}

public enum Audit {
  /// Builds the rows, worst first (then by account). `results` are keyed by keyring item id (an interrupted
  /// rotation can leave two current items of one account, each checked on its own).
  public static func rows(
    entries: [CredentialStore.Entry], results: [String: [CheckResult]], now: Date, warningDays: Int
  ) -> [AuditRow] {
    let interruptedAccounts = Set(Rotation.interrupted(entries))
    let rows = entries.map { entry -> AuditRow in
      let c = entry.credential
      let expiry = ExpiryStatus(expires: c.expires, now: now, warningDays: warningDays)
      let checks = c.state == .current ? (results[entry.item.id] ?? []) : []
      let interrupted = interruptedAccounts.contains(c.account)
      var attention = AuditRow.Attention.none
      if c.state != .current || interrupted { attention = .warning }
      if case .expiresSoon = expiry { attention = max(attention, .warning) }
      // A kind the provider refuses (or soon will): known without the network, so `--offline` warns too.
      if c.state == .current && c.policyWarning(now: now) != nil { attention = max(attention, .warning) }
      if case .expired = expiry, c.state == .current { attention = .failing }
      if checks.contains(where: { $0.verdict != .ok }) { attention = .failing }
      var row = AuditRow(credential: c, expiry: expiry, checks: checks, interruptedRotation: interrupted, attention: attention)
      row.noteGrantAge(now: now)
      return row
    }
    return rows.sorted {
      if $0.exitStatus != $1.exitStatus { return $0.exitStatus > $1.exitStatus }
      if $0.attention != $1.attention { return $0.attention > $1.attention }
      if $0.credential.account != $1.credential.account { return $0.credential.account < $1.credential.account }
      if $0.credential.state != $1.credential.state { return $0.credential.state.sortKey < $1.credential.state.sortKey }
      return $0.credential.created > $1.credential.created
    }
  }

  /// 0 only when every current credential authenticates and none is expired; otherwise the worst class
  /// (77 over 76 over 75). Expiring soon is a warning and does not fail.
  public static func exitStatus(_ rows: [AuditRow]) -> ExitStatus {
    rows.map(\.exitStatus).max() ?? .ok
  }
}

extension AuditRow {
  /// What the expiry of a current credential asks for (rotating, now or before the date); nil when nothing
  /// is due. The text audit and Nagios print it alike.
  public var expiryAdvice: Advice? {
    guard credential.state == .current else { return nil }
    switch expiry {
    case .expired: return "\(expiry) — `\(command: .rotate(credential.account))`"
    case .expiresSoon: return "\(expiry) — `\(command: .rotate(credential.account))` before then"
    default: return nil
    }
  }

  /// The leftover of an interrupted rotation, and the two ways to settle it.
  public var interruptedAdvice: Advice? {
    interruptedRotation ? "an interrupted rotation — `\(command: .rotate(credential.account, .resume))` or `\(option: .abort)`" : nil
  }

  /// An oauth2 grant's checks refreshed it first (`check`/`audit` force a refresh), unless the token
  /// endpoint refused: then the stored refresh time stands, and so may the idle warning.
  mutating func noteGrantAge(now: Date) {
    guard credential.kind == .oauth2 else { return }
    let refreshedNow = !checks.isEmpty && !checks.contains { $0.detail.hasPrefix(OAuthCheck.tokenEndpointPrefix) }
    if refreshedNow {
      lastRefresh = now
      return
    }
    lastRefresh = OAuthGrantAge.lastRefresh(credential)
    grantIdleDays = OAuthGrantAge.idleDays(credential, now: now)
    if grantIdleDays != nil { attention = max(attention, .warning) }
  }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a credential stands against its expiry date, as `list`, `show` and `audit` print it.
public enum ExpiryStatus: Equatable, Sendable, CustomStringConvertible {
  case noExpiry
  case valid(daysLeft: Int)
  case expiresSoon(daysLeft: Int)
  case expired(daysAgo: Int)

  public static let defaultWarningDays = 14

  public init(expires: Date?, now: Date, warningDays: Int = ExpiryStatus.defaultWarningDays) {
    guard let expires else {
      self = .noExpiry
      return
    }
    let seconds = expires.timeIntervalSince(now)
    if seconds <= 0 {
      self = .expired(daysAgo: Int((-seconds / 86400).rounded(.down)))
    } else {
      // "expires in 10 days" for a secret made today with --expires-in 10d: count started days.
      let days = Int((seconds / 86400).rounded(.up))
      self = days <= warningDays ? .expiresSoon(daysLeft: days) : .valid(daysLeft: days)
    }
  }

  /// `ok`, `expiring`, `expired`: the stable word used in JSON.
  public var word: String {
    switch self {
    case .noExpiry, .valid: return "ok"
    case .expiresSoon: return "expiring"
    case .expired: return "expired"
    }
  }

  public var description: String {
    switch self {
    case .noExpiry: return "ok (no expiry)"
    case .valid(let days): return "ok (expires in \(days) days)"
    case .expiresSoon(0): return "expires today"
    case .expiresSoon(1): return "expires in 1 day"
    case .expiresSoon(let days): return "expires in \(days) days"
    case .expired(0): return "expired today"
    case .expired(1): return "expired 1 day ago"
    case .expired(let days): return "expired \(days) days ago"
    }
  }
}

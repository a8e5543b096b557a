#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the live checks of one secret decided: the one rule every command applies to a new or stored
/// secret (add, authorize, import, rotate, check, audit).
public struct Verification: Sendable {
  /// One result per endpoint checked, in the credential's endpoint order.
  public let results: [CheckResult]

  public init(results: [CheckResult]) { self.results = results }

  public enum Decision: Equatable, Sendable {
    /// Every endpoint authenticated (or nothing was checked): store it, make it current.
    case verified
    /// The secret was not judged (timeout, refused, TLS, 4xx): `add` stores it with a warning, `rotate`
    /// keeps the old one.
    case unverified(CheckClass)
    /// A server refused the secret itself: never stored, never made current.
    case rejected(CheckResult)
  }

  public var decision: Decision {
    if let rejection = results.first(where: { $0.verdict.isRejection }) { return .rejected(rejection) }
    if let verdict = worst, verdict != .ok { return .unverified(verdict) }
    return .verified
  }

  /// The worst verdict (nil when nothing was checked).
  public var worst: CheckClass? { CheckClass.worst(of: results) }

  /// The results that did not authenticate.
  public var failures: [CheckResult] { results.filter { $0.verdict != .ok } }

  /// `credential` with this verification recorded (`checked`, `check-result`); unchanged when nothing ran.
  public func recorded(on credential: Credential, at time: Date) -> Credential {
    guard let worst else { return credential }
    var checked = credential
    checked.checked = time
    checked.checkResult = worst.rawValue
    return checked
  }
}

extension CheckClass {
  /// The worst verdict of several: 77 over 76 over 75 over ok; nil for none.
  public static func worst(of results: [CheckResult]) -> CheckClass? {
    results.map(\.verdict).max { $0.exitStatus < $1.exitStatus }
  }
}

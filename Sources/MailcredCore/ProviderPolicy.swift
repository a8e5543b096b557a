#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a provider's policy means for one stored credential, known without the network (issue 18): an
/// Outlook.com app password is dead whatever the server would say today, and `list`, `show` and
/// `audit --offline` should say so before the user finds out from a bounced mail.
public struct PolicyConcern: Sendable, Equatable {
  public enum Level: String, Sendable {
    /// The credential does not (or soon will not) work: `audit` counts it as a warning.
    case warning
    /// Worth knowing, nothing to do (`show` only).
    case note
  }

  public var level: Level
  /// `refused`, `refused-by-default` or `caveat` (KindPolicy.Effect), for JSON.
  public var effect: String
  /// One sentence: the fact, with its date.
  public var text: String
  /// A few words for a table cell (`list`'s STATUS).
  public var short: String
  /// The command that fixes it, when one does.
  public var fix: AdviceCommand?

  /// `text — `command``, for one-line output.
  public var line: Advice { fix.map { "\(text) — `\(command: $0)`" } ?? Advice(text) }
}

extension Credential {
  /// The provider policy facts that apply to this credential (its kind, its endpoints), as of `now`.
  public func policyConcerns(now: Date) -> [PolicyConcern] {
    guard let provider = Provider.of(self) else { return [] }
    let protocols = endpoints.map(\.proto)
    return provider.kindPolicies.compactMap { policy -> PolicyConcern? in
      guard policy.kinds.contains(kind), policy.protocols.contains(where: protocols.contains) else { return nil }
      let fix = policy.fix == "authorize" ? OAuthCheck.authorizeCommand(account: account, provider: provider) : nil
      switch policy.effect {
      case .caveat:
        return PolicyConcern(
          level: .note, effect: policy.effect.rawValue, text: "\(kind.rawValue): \(policy.fact)", short: policy.fact, fix: nil)
      case .refused, .refusedByDefault:
        var text = policy.fact
        var short = policy.effect == .refused ? "\(kind.rawValue) refused by provider" : "basic auth off by default"
        if let day = policy.effective, let date = RFC3339.parse(day), date > now {
          let days = Int((date.timeIntervalSince(now) / 86400).rounded(.up))
          text += " (from \(day), in \(days) day\(days == 1 ? "" : "s"))"
          short = policy.effect == .refused ? "\(kind.rawValue) refused from \(day)" : "basic auth off from \(day)"
        }
        return PolicyConcern(level: .warning, effect: policy.effect.rawValue, text: text, short: short, fix: fix)
      }
    }
  }

  /// The first warning-level concern, for a table cell or an audit line.
  public func policyWarning(now: Date) -> PolicyConcern? {
    policyConcerns(now: now).first { $0.level == .warning }
  }
}

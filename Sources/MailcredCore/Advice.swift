/// What mailcred tells the user, with the commands and options it suggests kept as data: the core decides
/// *that* `rotate work` or the CA-file option is the fix; the front end (`MailcredSpelling` for the CLI)
/// decides how they are spelled (`mailcred rotate work`, `--ca-file CERT.pem`). So renaming a flag is one
/// line in one table, and no core file spells a command line.
///
/// Written as an ordinary sentence: `"wrong password: `\(command: .rotate(account))`"`. Backticks and
/// punctuation are the sentence's; only the command and option words come from the speller.
public struct Advice: Sendable, Hashable, CustomDebugStringConvertible {
  public enum Part: Sendable, Hashable {
    case text(String)
    case command(AdviceCommand)
    case option(AdviceOption)
  }

  public private(set) var parts: [Part]

  public init(_ text: String) { parts = text.isEmpty ? [] : [.text(text)] }
  public init(parts: [Part]) {
    self.parts = []
    for part in parts { append(part) }
  }

  public var isEmpty: Bool { parts.isEmpty }

  /// Every command the advice suggests, in order (tests, and front ends that offer them as actions).
  public var commands: [AdviceCommand] {
    parts.compactMap { if case .command(let command) = $0 { return command } else { return nil } }
  }

  /// Adjacent texts merge, so two pieces of advice built differently compare equal when they read the same.
  mutating func append(_ part: Part) {
    if case .text(let new) = part {
      if new.isEmpty { return }
      if case .text(let old)? = parts.last {
        parts[parts.count - 1] = .text(old + new)
        return
      }
    }
    parts.append(part)
  }

  public static func + (left: Advice, right: Advice) -> Advice {
    var joined = left
    for part in right.parts { joined.append(part) }
    return joined
  }

  /// `self` or `other` alone when the other is empty, else both with `separator` between them.
  public func joined(with other: Advice, separator: String) -> Advice {
    if isEmpty { return other }
    if other.isEmpty { return self }
    return self + Advice(separator) + other
  }

  public func spelled(by speller: some AdviceSpeller) -> String {
    var text = ""
    for part in parts {
      switch part {
      case .text(let words): text += words
      case .command(let command): text += speller.spell(command)
      case .option(let option): text += speller.spell(option)
      }
    }
    return text
  }

  /// The parts, marked, for test failures and debugging; never shown to a user.
  public var debugDescription: String {
    parts.map { part -> String in
      switch part {
      case .text(let words): return words
      case .command(let command): return "⟨\(String(reflecting: command))⟩"
      case .option(let option): return "⟨\(String(reflecting: option))⟩"
      }
    }.joined()
  }
}

extension Advice: ExpressibleByStringInterpolation {
  public init(stringLiteral value: String) { self.init(value) }
  public init(stringInterpolation: Interpolation) { self.init(parts: stringInterpolation.parts) }

  public struct Interpolation: StringInterpolationProtocol {
    var parts: [Part] = []
    public init(literalCapacity: Int, interpolationCount: Int) {}
    public mutating func appendLiteral(_ literal: String) { parts.append(.text(literal)) }
    public mutating func appendInterpolation(command: AdviceCommand) { parts.append(.command(command)) }
    public mutating func appendInterpolation(option: AdviceOption) { parts.append(.option(option)) }
    public mutating func appendInterpolation(_ advice: Advice) { parts += advice.parts }
    public mutating func appendInterpolation(_ value: some CustomStringConvertible) { parts.append(.text(value.description)) }
    public mutating func appendInterpolation(_ value: String) { parts.append(.text(value)) }
  }
}

/// A mailcred command the advice suggests: what to run, on which account, with which options.
public struct AdviceCommand: Sendable, Hashable {
  public enum Verb: Sendable, Hashable, CaseIterable {
    case add, authorize, check, get, `import`, list, remove, restore, rotate, show, unlock
  }

  public var verb: Verb
  /// What the command acts on: an account, or for `import` a file or client.
  public var account: String?
  public var options: [AdviceOption]

  public init(_ verb: Verb, _ account: String? = nil, _ options: [AdviceOption] = []) {
    (self.verb, self.account, self.options) = (verb, account, options)
  }

  public static func rotate(_ account: String, _ options: AdviceOption...) -> Self { .init(.rotate, account, options) }
  public static func authorize(_ account: String, _ options: AdviceOption...) -> Self { .init(.authorize, account, options) }
  public static func check(_ account: String) -> Self { .init(.check, account) }
  public static func get(_ account: String) -> Self { .init(.get, account) }
  public static func show(_ account: String) -> Self { .init(.show, account) }
  public static func remove(_ account: String) -> Self { .init(.remove, account) }
  public static func restore(_ account: String) -> Self { .init(.restore, account) }
  public static func `import`(_ source: String) -> Self { .init(.import, source) }
  public static var list: Self { .init(.list) }
  public static var unlock: Self { .init(.unlock) }
  /// `rotate` without an account (the form "or rotate it").
  public static var rotateAny: Self { .init(.rotate) }
}

/// An option of a mailcred command, by meaning. `value` placeholders (`CERT.pem`, `URL`) are the advice's:
/// they say what the user puts there.
public enum AdviceOption: Sendable, Hashable {
  case replace, noCheck, keepWhitespace, timeout, device
  case resume, abort, previous
  case caFile(String?)
  /// A mail server endpoint (`HOST:PORT`) and its transport security.
  case server(MailProtocol, String?)
  case security(MailProtocol, TransportSecurity)
  case user(String)
  /// `nil`: the option itself, without a value ("a provider option that has one").
  case provider(String?)
  case kind(CredentialKind)
  case clientID(String?)
  case clientSecretStdin
  case tokenEndpoint(String?)
  case deviceEndpoint(String?)
  case authorizationEndpoint(String?)
}

/// How a front end writes commands and options. The CLI's is `CommandLineSpelling` (MailcredSpelling).
public protocol AdviceSpeller: Sendable {
  func spell(_ command: AdviceCommand) -> String
  func spell(_ option: AdviceOption) -> String
}

// Advice dropped into a String would print its debugging form. An unavailable overload would lose to the
// generic one (the type checker ranks unavailable declarations last), so these are deprecated instead: the
// build warns at every such place, and `scripts/test` fails on the warning.
extension DefaultStringInterpolation {
  @available(*, deprecated, message: "spell advice with a speller (the CLI: `.text`), or interpolate it into Advice")
  public mutating func appendInterpolation(_ advice: Advice) { appendLiteral(advice.debugDescription) }
  @available(*, deprecated, message: "spell a command with a speller, or interpolate it into Advice with `command:`")
  public mutating func appendInterpolation(_ command: AdviceCommand) { appendLiteral(String(reflecting: command)) }
  @available(*, deprecated, message: "spell an option with a speller, or interpolate it into Advice with `option:`")
  public mutating func appendInterpolation(_ option: AdviceOption) { appendLiteral(String(reflecting: option)) }
}

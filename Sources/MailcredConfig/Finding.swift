/// One problem `mailcred doctor` reports: how bad, where, why, and the line to write instead.
public struct Finding: Sendable, Equatable, Codable {
  public enum Severity: String, Sendable, Codable, Comparable {
    case info, warning, error
    var rank: Int { self == .error ? 2 : self == .warning ? 1 : 0 }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
  }

  /// What to do with `fix`: write it instead of line `line`, or add it after that line.
  public enum FixAction: String, Sendable, Codable {
    case replace
    case insertAfter = "insert-after"
  }

  public var severity: Severity
  /// A stable identifier for scripts and tests (`port-security`, `plaintext-secret`, ...).
  public var code: String
  public var client: MailClient?
  public var account: String?
  public var path: String
  public var line: Int?
  public var message: String
  /// The exact line to write (never holds a secret).
  public var fix: String?
  public var fixAction: FixAction?

  public init(
    _ severity: Severity, _ code: String, client: MailClient? = nil, account: String? = nil, path: String, line: Int?,
    _ message: String, fix: String? = nil, action: FixAction? = nil
  ) {
    self.severity = severity
    self.code = code
    self.client = client
    self.account = account
    self.path = path
    self.line = line
    self.message = message
    self.fix = fix
    self.fixAction = fix == nil ? nil : (action ?? .replace)
  }

  /// `path:line: severity: message` and, when there is one, the fix on the next line.
  public var text: String {
    let location = line.map { "\(path):\($0)" } ?? path
    let who = account.map { " [\(client?.rawValue ?? "") \($0)]" } ?? ""
    var out = "\(location): \(severity.rawValue): \(message)\(who)"
    if let fix, let fixAction {
      out += fixAction == .replace ? "\n    write instead: \(fix)" : "\n    add after it: \(fix)"
    }
    return out
  }
}

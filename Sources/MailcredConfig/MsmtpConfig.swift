import MailcredCore

/// How msmtp 1.8 splits a line (measured against msmtp 1.8.23's `--pretend` output): white space before
/// the command, a line whose first non-blank byte is `#` is a comment (there are no trailing comments),
/// the argument is the rest of the line without surrounding white space, and when it both starts and ends
/// with `"` those two quotes are removed. Nothing else is special: no escapes, an unmatched quote is
/// literal.
public enum MsmtpSyntax {
  public struct Parts: Equatable {
    public var command: String
    /// The argument's raw bytes within the line (before unquoting).
    public var argument: Range<Int>
  }

  static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0d || byte == 0x0b || byte == 0x0c }

  /// nil for an empty or comment line.
  public static func split(_ line: [UInt8]) -> Parts? {
    var i = 0
    while i < line.count, isBlank(line[i]) { i += 1 }
    guard i < line.count, line[i] != UInt8(ascii: "#") else { return nil }
    let commandStart = i
    while i < line.count, !isBlank(line[i]) { i += 1 }
    let command = String(decoding: line[commandStart..<i], as: UTF8.self)
    while i < line.count, isBlank(line[i]) { i += 1 }
    var end = line.count
    while end > i, isBlank(line[end - 1]) { end -= 1 }
    return Parts(command: command, argument: i..<end)
  }

  public static func unquote(_ raw: [UInt8]) -> [UInt8] {
    if raw.count >= 2, raw.first == UInt8(ascii: "\""), raw.last == UInt8(ascii: "\"") {
      return Array(raw[1..<(raw.count - 1)])
    }
    return raw
  }

  /// An argument as msmtp reads it back: quoted when it has white space at an end or is empty.
  public static func quote(_ value: String) -> String {
    value.isEmpty || value.first!.isWhitespace || value.last!.isWhitespace || value.hasPrefix("\"") ? "\"\(value)\"" : value
  }
}

/// The accounts of one msmtp configuration file, with `defaults`, `account NAME : PARENT[,PARENT]`
/// inheritance and `account default : NAME` resolved the way msmtp resolves them: an account starts with
/// the defaults seen so far, then takes every setting of its parents in order, then its own lines.
public struct MsmtpConfig: Sendable {
  public var accounts: [ClientAccount]
  /// `account default : NAME`: the account msmtp uses without `-a`.
  public var defaultAccount: Setting<String>?
  /// Lines msmtp would refuse or that mailcred cannot follow (`eval`, an unknown parent, ...).
  public var problems: [Setting<String>]

  /// One account's settings: command → (raw argument range, line).
  struct Settings {
    var values: [String: (value: String, line: Int, range: Range<Int>)] = [:]
    mutating func merge(_ other: Settings) { values.merge(other.values) { _, new in new } }
  }

  public init(_ file: ConfigFile) {
    accounts = []
    problems = []
    var defaults = Settings()
    var named: [String: Settings] = [:]
    var order: [(name: String, line: Int, ownLines: Int, end: Int)] = []
    var current: String? = nil  // nil: in `defaults` (or before any section, which msmtp treats alike)
    for (index, line) in file.lines.enumerated() {
      guard let parts = MsmtpSyntax.split(line.bytes) else { continue }
      let number = index + 1
      let raw = Array(line.bytes[parts.argument])
      // Never turn a password into a String: keep only where it is.
      let isSecret = parts.command == "password"
      let value = isSecret ? "" : String(decoding: MsmtpSyntax.unquote(raw), as: UTF8.self)
      switch parts.command {
      case "defaults":
        current = nil
        if let last = order.indices.last, order[last].end == 0 { order[last].end = number - 1 }
      case "account":
        let (name, parents) = Self.accountHeader(value)
        var settings = defaults
        for parent in parents {
          if let inherited = named[parent] { settings.merge(inherited) } else {
            problems.append(Setting("account '\(name)' inherits from unknown account '\(parent)'", path: file.path, line: number))
          }
        }
        if name == "default", parents.count == 1 {
          defaultAccount = Setting(parents[0], path: file.path, line: number)
        }
        named[name] = settings
        if let last = order.indices.last, order[last].end == 0 { order[last].end = number - 1 }
        order.removeAll { $0.name == name }
        order.append((name, number, 0, 0))
        current = name
      case "eval":
        problems.append(Setting("`eval` lines are run by msmtp; mailcred does not run them", path: file.path, line: number))
      default:
        let entry = (value: value, line: number, range: parts.argument)
        if let name = current {
          named[name]?.values[parts.command] = entry
          if let last = order.indices.last { order[last].ownLines += 1 }
        } else {
          defaults.values[parts.command] = entry
        }
      }
    }
    var owners: [Int: String] = [:]
    for (name, line, ownLines, end) in order {
      // `account default : work` with nothing of its own is an alias, not a second account to check.
      if name == "default", ownLines == 0, defaultAccount != nil { continue }
      var account = Self.account(name: name, line: line, settings: named[name] ?? Settings(), path: file.path)
      account.sectionEnd = end == 0 ? file.lines.count : end
      if let secretLine = account.plaintext?.line {
        // Sections come in file order, so the first account with a password line is the one whose
        // section holds it (or, for `defaults`, the first to use it).
        if owners[secretLine] == nil { owners[secretLine] = name }
        account.plaintext?.owner = owners[secretLine]!
      }
      accounts.append(account)
    }
  }

  /// `NAME`, `NAME : A`, `NAME : A, B` (msmtp allows blanks around the colon and commas).
  static func accountHeader(_ value: String) -> (String, [String]) {
    let halves = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    let name = String(halves[0]).trimmingCharacters(in: [" ", "\t"])
    guard halves.count == 2 else { return (name, []) }
    let parents = halves[1].split(separator: ",").map { String($0).trimmingCharacters(in: [" ", "\t"]) }.filter { !$0.isEmpty }
    return (name, parents)
  }

  static func isOn(_ value: String) -> Bool { value.isEmpty || value == "on" }

  static func account(name: String, line: Int, settings: Settings, path: String) -> ClientAccount {
    func setting(_ key: String) -> Setting<String>? {
      settings.values[key].map { Setting($0.value, path: path, line: $0.line) }
    }
    let tls = setting("tls")
    let starttls = setting("tls_starttls")
    let tlsOn = tls.map { isOn($0.value) } ?? false
    let starttlsOn = starttls.map { isOn($0.value) } ?? true
    let security: TransportSecurity = !tlsOn ? .plain : (starttlsOn ? .starttls : .tls)
    var account = ClientAccount(client: .msmtp, name: name, path: path, line: line, proto: .smtp, security: security)
    account.defaultPort = security == .tls ? 465 : 25
    account.securityLine = tlsOn ? (starttls ?? tls) : tls
    account.host = setting("host")
    if let port = setting("port") {
      account.port = Int(port.value).map { Setting($0, path: path, line: port.line) }
    }
    account.user = setting("user")
    if let check = setting("tls_certcheck"), !isOn(check.value) { account.certificateCheckOff = check }
    if let trust = setting("tls_trust_file"), trust.value != "system", !trust.value.isEmpty { account.caFile = trust.value }
    if let auth = setting("auth") { account.authMethod = Setting(auth.value.lowercased(), path: path, line: auth.line) }
    account.passwordCommand = setting("passwordeval")
    if let password = settings.values["password"] {
      account.plaintext = PlaintextSecret(path: path, line: password.line, keyword: "password", range: password.range, quoting: .msmtp)
    }
    return account
  }
}

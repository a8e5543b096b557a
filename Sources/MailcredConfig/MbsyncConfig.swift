import MailcredCore

/// How mbsync (isync 1.4.4, measured) splits a line: keywords are case-insensitive; a value token may
/// mix quoted and unquoted parts (`"a b"c` is `a bc`), `\` escapes the next byte anywhere, an unquoted
/// blank ends the token, a token starting with `#` starts a comment, and an unclosed quote is an error
/// ("missing closing quote"). A blank line ends a section.
public enum MbsyncSyntax {
  public struct Token {
    public var value: [UInt8]
    public var range: Range<Int>
    public var unterminated: Bool
  }

  /// Every token of a line, up to a comment.
  public static func tokens(_ line: [UInt8]) -> [Token] {
    var result: [Token] = []
    var i = 0
    while true {
      while i < line.count, MsmtpSyntax.isBlank(line[i]) { i += 1 }
      guard i < line.count, line[i] != UInt8(ascii: "#") else { return result }
      let start = i
      var value: [UInt8] = []
      var quoted = false
      while i < line.count {
        let byte = line[i]
        if byte == UInt8(ascii: "\\"), i + 1 < line.count {
          value.append(line[i + 1])
          i += 2
          continue
        }
        if byte == UInt8(ascii: "\"") {
          quoted.toggle()
        } else if !quoted && MsmtpSyntax.isBlank(byte) {
          break
        } else {
          value.append(byte)
        }
        i += 1
      }
      result.append(Token(value: value, range: start..<i, unterminated: quoted))
    }
  }

  /// A value written so mbsync reads it back: quoted, with `"` and `\` escaped.
  public static func quote(_ value: String) -> String { backslashQuoted(value) }

  static func isBlankLine(_ line: [UInt8]) -> Bool { line.allSatisfy(MsmtpSyntax.isBlank) }
}

/// The IMAP accounts of one mbsync configuration: `IMAPAccount` sections, and `IMAPStore` sections that
/// carry their own Host or Tunnel (mbsync's implicit account).
public struct MbsyncConfig: Sendable {
  public var accounts: [ClientAccount]
  public var problems: [Setting<String>]
  /// Lines that use `SSLType`/`SSLVersions` (isync ≤ 1.4) or `TLSType`/`TLSVersions` (isync ≥ 1.5).
  public var optionSpellings: [Setting<String>]

  static let sectionKeywords: Set<String> = ["imapaccount", "imapstore", "maildirstore", "channel", "group", "sync"]
  static let accountKeys: Set<String> = [
    "host", "port", "user", "usercmd", "pass", "passcmd", "ssltype", "tlstype", "sslversions", "tlsversions",
    "authmechs", "certificatefile", "systemcertificates", "tunnel", "account",
  ]

  static let listKeys: Set<String> = ["authmechs", "sslversions", "tlsversions"]

  public init(_ file: ConfigFile) {
    accounts = []
    problems = []
    optionSpellings = []
    var section: (kind: String, name: String, line: Int)? = nil
    var values: [String: (value: String, line: Int, range: Range<Int>)] = [:]

    func finish(at end: Int) {
      defer { section = nil; values = [:] }
      guard let current = section else { return }
      let isAccount = current.kind == "imapaccount"
      let isImplicit = current.kind == "imapstore" && values["account"] == nil && (values["host"] != nil || values["tunnel"] != nil)
      if isAccount || isImplicit {
        var account = Self.account(name: current.name, line: current.line, values: values, path: file.path)
        account.sectionEnd = end
        accounts.append(account)
      }
    }

    for (index, line) in file.lines.enumerated() {
      let number = index + 1
      if MbsyncSyntax.isBlankLine(line.bytes) {
        finish(at: number - 1)
        continue
      }
      let tokens = MbsyncSyntax.tokens(line.bytes)
      guard let first = tokens.first else { continue }
      let keyword = String(decoding: first.value, as: UTF8.self).lowercased()
      let isSecret = keyword == "pass"
      if tokens.contains(where: \.unterminated) {
        problems.append(Setting("missing closing quote (mbsync refuses this line)", path: file.path, line: number))
      }
      // Lists (AuthMechs PLAIN LOGIN, SSLVersions, Patterns) take several tokens; the rest exactly one.
      let isList = Self.listKeys.contains(keyword)
      if tokens.count > 2, !isList, Self.accountKeys.contains(keyword) {
        problems.append(Setting("excess token after the value (mbsync refuses this line)", path: file.path, line: number))
      }
      let valueToken = tokens.count > 1 ? tokens[1] : nil
      let value = isSecret ? "" : isList ? tokens.dropFirst().map { String(decoding: $0.value, as: UTF8.self) }.joined(separator: " ")
        : valueToken.map { String(decoding: $0.value, as: UTF8.self) } ?? ""
      if ["ssltype", "sslversions", "tlstype", "tlsversions"].contains(keyword) {
        optionSpellings.append(Setting(String(decoding: first.value, as: UTF8.self), path: file.path, line: number))
      }
      if Self.sectionKeywords.contains(keyword) {
        finish(at: number - 1)
        section = (keyword, value, number)
        continue
      }
      guard section != nil, Self.accountKeys.contains(keyword) else { continue }
      values[keyword] = (value, number, valueToken?.range ?? line.bytes.count..<line.bytes.count)
    }
    finish(at: file.lines.count)
  }

  static func account(name: String, line: Int, values: [String: (value: String, line: Int, range: Range<Int>)], path: String) -> ClientAccount {
    func setting(_ key: String) -> Setting<String>? { values[key].map { Setting($0.value, path: path, line: $0.line) } }
    let type = setting("tlstype") ?? setting("ssltype")
    let security: TransportSecurity
    switch type?.value.lowercased() {
    case "imaps": security = .tls
    case "none": security = .plain
    default: security = .starttls  // isync's default is STARTTLS
    }
    var account = ClientAccount(client: .mbsync, name: name, path: path, line: line, proto: .imap, security: security)
    account.securityLine = type
    account.defaultPort = security == .tls ? 993 : 143
    account.host = setting("host")
    if let port = setting("port") { account.port = Int(port.value).map { Setting($0, path: path, line: port.line) } }
    account.user = setting("user")
    account.caFile = setting("certificatefile")?.value
    if let mechs = setting("authmechs") { account.authMethod = Setting(mechs.value.lowercased(), path: path, line: mechs.line) }
    account.passwordCommand = setting("passcmd")
    account.tunnel = setting("tunnel")
    if let pass = values["pass"] {
      account.plaintext = PlaintextSecret(path: path, line: pass.line, keyword: "Pass", range: pass.range, quoting: .mbsync, owner: name)
    }
    return account
  }
}

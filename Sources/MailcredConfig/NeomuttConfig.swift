import MailcredCore

/// The SMTP and IMAP accounts of a neomutt (or mutt) configuration, following `source` lines: the
/// settings of every file read, in the order neomutt reads them (a later `set` wins).
public struct NeomuttConfig: Sendable {
  public var accounts: [ClientAccount]
  public var problems: [Setting<String>]
  /// Every file read, the first one included, by path: a secret may sit in a sourced file.
  public var files: [String: ConfigFile]

  struct Value {
    var text: String
    var path: String
    var line: Int
    /// The token's raw bytes in its line, and whether they are exactly the value (plus one quote each side).
    var range: Range<Int>
    var offset: Int?
    var empty = false
  }

  static let secretVariables: Set<String> = ["smtp_pass", "imap_pass"]
  static let urlVariables: Set<String> = ["smtp_url", "folder", "spoolfile", "spool_file"]

  /// `loader` returns a sourced file (its path already made absolute against the sourcing file's
  /// directory; `~/` is left for the loader to expand), or nil when it cannot be read.
  public init(_ file: ConfigFile, loader: (String) -> ConfigFile?) {
    accounts = []
    problems = []
    files = [file.path: file]
    var values: [String: Value] = [:]
    var depth = 0
    read(file, into: &values, depth: &depth, loader: loader)
    for proto in [MailProtocol.smtp, .imap] {
      if let account = Self.account(proto, values: values, files: files) { accounts.append(account) }
    }
  }

  private mutating func read(_ file: ConfigFile, into values: inout [String: Value], depth: inout Int, loader: (String) -> ConfigFile?) {
    for (index, line) in file.lines.enumerated() {
      let number = index + 1
      let tokens = MuttSyntax.tokens(line.bytes)
      if tokens.contains(where: \.unterminated) {
        problems.append(Setting("unterminated quote (neomutt refuses this line)", path: file.path, line: number))
        continue
      }
      // Commands are separated by `;`.
      var commands: [[MuttSyntax.Token]] = [[]]
      for token in tokens {
        if token.kind == .semicolon { commands.append([]) } else { commands[commands.count - 1].append(token) }
      }
      for command in commands {
        guard let first = command.first, first.kind == .word else { continue }
        let verb = String(decoding: first.value, as: UTF8.self)
        switch verb {
        case "set", "unset", "reset", "toggle":
          assign(Array(command.dropFirst()), verb: verb, bytes: line.bytes, path: file.path, line: number, into: &values)
        case "source":
          guard command.count >= 2 else { continue }
          let target = String(decoding: command[1].value, as: UTF8.self)
          if target.contains("`") || target.hasSuffix("|") {
            problems.append(Setting("`source` of a command's output: not followed", path: file.path, line: number))
            continue
          }
          let resolved = target.hasPrefix("/") || target.hasPrefix("~") ? target : Self.directory(of: file.path) + "/" + target
          guard depth < 10, !files.keys.contains(resolved) else {
            problems.append(Setting("`source \(target)` loops or nests too deep: not followed", path: file.path, line: number))
            continue
          }
          guard let sourced = loader(resolved) else {
            problems.append(Setting("cannot read sourced file \(target)", path: file.path, line: number))
            continue
          }
          files[resolved] = sourced
          files[sourced.path] = sourced
          depth += 1
          read(sourced, into: &values, depth: &depth, loader: loader)
          depth -= 1
        default: continue
        }
      }
    }
  }

  /// `set a = b c = "d" e`, `unset x`: each name with its value (a bare name is a boolean yes).
  private func assign(_ tokens: [MuttSyntax.Token], verb: String, bytes: [UInt8], path: String, line: Int, into values: inout [String: Value]) {
    var i = 0
    while i < tokens.count {
      guard tokens[i].kind == .word else { i += 1; continue }
      var name = String(decoding: tokens[i].value, as: UTF8.self)
      if i + 2 < tokens.count, tokens[i + 1].kind == .equals, verb == "set" {
        let token = tokens[i + 2]
        let raw = Array(bytes[token.range])
        let offset: Int? = raw == token.value ? 0 : (raw.count == token.value.count + 2 && Array(raw[1..<(raw.count - 1)]) == token.value ? 1 : nil)
        // A password is never made a String; a backtick command is not a secret.
        let tick = UInt8(ascii: "`")
        let isCommand = token.value.count >= 2 && token.value.first == tick && token.value.last == tick
        let text = Self.secretVariables.contains(name) && !isCommand ? "" : String(decoding: token.value, as: UTF8.self)
        values[name] = Value(text: text, path: path, line: line, range: token.range, offset: offset, empty: token.value.isEmpty)
        i += 3
        continue
      }
      var value = verb == "set" ? "yes" : "no"
      if name.hasPrefix("no") && verb == "set" { name.removeFirst(2); value = "no" }
      values[name] = Value(text: value, path: path, line: line, range: tokens[i].range, offset: nil)
      i += 1
    }
  }

  static func directory(of path: String) -> String {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
    return parts.isEmpty ? "." : parts.joined(separator: "/")
  }

  static func account(_ proto: MailProtocol, values: [String: Value], files: [String: ConfigFile]) -> ClientAccount? {
    func setting(_ key: String) -> Setting<String>? { values[key].map { Setting($0.text, path: $0.path, line: $0.line) } }
    func isNo(_ key: String) -> Bool { values[key].map { ["no", "ask-no"].contains($0.text.lowercased()) } ?? false }
    let urlKey = proto == .smtp ? "smtp_url" : (values["folder"].map { $0.text.lowercased().hasPrefix("imap") } == true ? "folder" : values["spoolfile"] != nil ? "spoolfile" : "spool_file")
    guard let urlValue = values[urlKey], let file = files[urlValue.path] else { return nil }
    let lineBytes = file.lines[urlValue.line - 1].bytes
    guard let offset = urlValue.offset else { return nil }
    let start = urlValue.range.lowerBound + offset
    let tokenBytes = Array(lineBytes[start..<(urlValue.range.upperBound - offset)])
    guard let url = MailURL(tokenBytes) else { return nil }
    let implicit = url.scheme == (proto == .smtp ? "smtps" : "imaps")
    guard implicit || url.scheme == (proto == .smtp ? "smtp" : "imap") else { return nil }
    let starttlsOff = isNo("ssl_starttls")
    let forceOff = isNo("ssl_force_tls")
    let security: TransportSecurity = implicit ? .tls : (starttlsOff && forceOff ? .plain : .starttls)
    let user = url.user ?? setting(proto == .smtp ? "smtp_user" : "imap_user")?.value
    var account = ClientAccount(client: .neomutt, name: user ?? url.host, path: urlValue.path, line: urlValue.line, proto: proto, security: security)
    account.sectionEnd = urlValue.line
    account.urlKey = urlKey
    account.host = Setting(url.host, path: urlValue.path, line: urlValue.line)
    account.port = url.port.map { Setting($0, path: urlValue.path, line: urlValue.line) }
    account.defaultPort = proto == .smtp ? (implicit ? 465 : 25) : (implicit ? 993 : 143)
    account.user = url.user.map { Setting($0, path: urlValue.path, line: urlValue.line) } ?? setting(proto == .smtp ? "smtp_user" : "imap_user")
    account.securityLine = implicit ? nil : (starttlsOff ? setting("ssl_starttls") : nil)
    if !implicit, forceOff, !starttlsOff { account.tlsOptional = setting("ssl_force_tls") }
    for key in ["ssl_verify_host", "ssl_verify_dates"] where isNo(key) && account.certificateCheckOff == nil {
      account.certificateCheckOff = values[key].map { Setting(key, path: $0.path, line: $0.line) }
    }
    if let ca = setting("ssl_ca_certificates_file") { account.caFile = ca.value }
    if let auth = setting(proto == .smtp ? "smtp_authenticators" : "imap_authenticators") {
      account.authMethod = Setting(auth.value.lowercased(), path: auth.path, line: auth.line)
    }
    let passKey = proto == .smtp ? "smtp_pass" : "imap_pass"
    if let pass = values[passKey] {
      if let command = MuttSyntax.backtickCommand(pass.text) {
        account.passwordCommand = Setting(command, path: pass.path, line: pass.line)
      } else if !pass.empty {
        account.plaintext = PlaintextSecret(path: pass.path, line: pass.line, keyword: passKey, range: pass.range, quoting: .mutt, owner: account.name)
      }
    } else if let range = url.passwordRange {
      account.plaintext = PlaintextSecret(
        path: urlValue.path, line: urlValue.line, keyword: "password in \(urlKey)", range: (start + range.lowerBound)..<(start + range.upperBound),
        quoting: .url, owner: account.name)
    }
    return account
  }
}

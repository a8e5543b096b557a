import MailcredCore

/// How git reads a config line (config.c): `[section]`, `[section "sub"]` headers; `name = value` where
/// `"` toggles quoting, `\` escapes `" \ n t b`, `#` or `;` outside quotes starts a comment, blanks at the
/// ends (outside quotes) are dropped.
public enum GitSyntax {
  public enum Line: Equatable {
    case section(name: String, subsection: String?)
    /// `name` lower-cased; `value` the raw range (nil for a bare boolean key).
    case key(name: String, value: Range<Int>?)
    case other
  }

  public static func parse(_ bytes: [UInt8]) -> Line {
    var i = 0
    while i < bytes.count, MsmtpSyntax.isBlank(bytes[i]) { i += 1 }
    guard i < bytes.count else { return .other }
    let first = bytes[i]
    if first == UInt8(ascii: "#") || first == UInt8(ascii: ";") { return .other }
    if first == UInt8(ascii: "[") {
      guard let close = bytes.lastIndex(of: UInt8(ascii: "]")), close > i else { return .other }
      let inner = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
      if let quote = inner.firstIndex(of: "\"") {
        let name = String(inner[..<quote]).trimmingCharacters(in: [" ", "\t"]).lowercased()
        let sub = String(inner[inner.index(after: quote)...]).trimmingCharacters(in: ["\""])
        return .section(name: name, subsection: sub.replacingBackslashes())
      }
      let parts = inner.split(separator: ".", maxSplits: 1)
      return .section(name: parts.first.map { String($0).lowercased() } ?? "", subsection: parts.count == 2 ? String(parts[1]).lowercased() : nil)
    }
    let nameStart = i
    while i < bytes.count, bytes[i] == UInt8(ascii: "-") || (bytes[i] < 0x80 && Character(Unicode.Scalar(bytes[i])).isLetter) || (bytes[i] >= 0x30 && bytes[i] <= 0x39) { i += 1 }
    let name = String(decoding: bytes[nameStart..<i], as: UTF8.self).lowercased()
    while i < bytes.count, MsmtpSyntax.isBlank(bytes[i]) { i += 1 }
    guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { return name.isEmpty ? .other : .key(name: name, value: nil) }
    i += 1
    while i < bytes.count, MsmtpSyntax.isBlank(bytes[i]) { i += 1 }
    let start = i
    var end = i
    var quoted = false
    while i < bytes.count {
      let byte = bytes[i]
      if byte == UInt8(ascii: "\\"), i + 1 < bytes.count { i += 2; end = i; continue }
      if byte == UInt8(ascii: "\"") { quoted.toggle(); i += 1; end = i; continue }
      if !quoted, byte == UInt8(ascii: "#") || byte == UInt8(ascii: ";") { break }
      i += 1
      if quoted || !MsmtpSyntax.isBlank(byte) { end = i }
    }
    return .key(name: name, value: start..<end)
  }

  /// A raw value as git decodes it.
  public static func decode(_ raw: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    var i = raw.startIndex
    while i < raw.endIndex {
      let byte = raw[i]
      if byte == UInt8(ascii: "\\"), i + 1 < raw.endIndex {
        let next = raw[i + 1]
        out.append(next == UInt8(ascii: "n") ? 0x0a : next == UInt8(ascii: "t") ? 0x09 : next == UInt8(ascii: "b") ? 0x08 : next)
        i += 2
        continue
      }
      if byte != UInt8(ascii: "\"") { out.append(byte) }
      i += 1
    }
    return out
  }

  /// The last line of `file` that sets `section[.subsection].name`, and its value's raw range.
  public static func locate(section: String, subsection: String?, name: String, in file: ConfigFile) -> (line: Int, value: Range<Int>?)? {
    var current: (String, String?) = ("", nil)
    var found: (Int, Range<Int>?)? = nil
    for (index, line) in file.lines.enumerated() {
      switch parse(line.bytes) {
      case .section(let s, let sub): current = (s, sub)
      case .key(let key, let value) where key == name && current.0 == section && current.1 == subsection: found = (index + 1, value)
      default: break
      }
    }
    return found
  }
}

extension String {
  func replacingBackslashes() -> String {
    var out = ""
    var escaped = false
    for c in self {
      if escaped { out.append(c); escaped = false } else if c == "\\" { escaped = true } else { out.append(c) }
    }
    return out
  }
}

/// git send-email's SMTP settings, as the real `git config` resolved them (includes, XDG, `-c`), with
/// the file and line of each found by reading the file it came from.
public struct GitSendemailConfig: Sendable {
  /// One `git config --show-origin` entry; `value` is nil for `smtppass` (never asked for as text).
  public struct Entry: Sendable, Equatable {
    public var key: String
    public var value: String?
    public var origin: String
    public init(key: String, value: String?, origin: String) {
      self.key = key
      self.value = value
      self.origin = origin
    }
  }

  public var accounts: [ClientAccount]

  /// `entries` as `git config -z --show-origin --get-regexp '^sendemail\.'` lists them (last wins);
  /// `files` the origin files read.
  public init(entries: [Entry], files: [String: ConfigFile]) {
    accounts = []
    var identities: [String] = [""]
    for entry in entries {
      let parts = entry.key.split(separator: ".")
      if parts.count == 3, !identities.contains(String(parts[1])) { identities.append(String(parts[1])) }
    }
    for identity in identities {
      // An identity's own value wins over the plain [sendemail] one.
      func entry(_ name: String) -> Entry? {
        let own = identity.isEmpty ? nil : entries.last { $0.key == "sendemail.\(identity).\(name)" }
        return own ?? entries.last { $0.key == "sendemail.\(name)" }
      }
      func setting(_ name: String) -> Setting<String>? {
        guard let e = entry(name), let file = files[e.origin] else { return nil }
        let sub = e.key.split(separator: ".").count == 3 ? identity : nil
        let line = GitSyntax.locate(section: "sendemail", subsection: sub, name: name, in: file)?.line ?? 0
        return Setting(e.value ?? "", path: e.origin, line: line)
      }
      guard let server = setting("smtpserver"), !server.value.hasPrefix("/") else { continue }  // a sendmail path, not SMTP
      let encryption = setting("smtpencryption")
      let security: TransportSecurity
      switch encryption?.value.lowercased() {
      case "ssl": security = .tls
      case "tls": security = .starttls
      default: security = .plain
      }
      let name = identity.isEmpty ? (setting("smtpuser")?.value ?? server.value) : identity
      var account = ClientAccount(client: .git, name: name, path: server.path, line: server.line, proto: .smtp, security: security)
      account.sectionEnd = server.line
      account.host = server
      if let port = setting("smtpserverport") { account.port = Int(port.value).map { Setting($0, path: port.path, line: port.line) } }
      account.defaultPort = security == .tls ? 465 : 25
      account.user = setting("smtpuser")
      account.securityLine = encryption
      if let cert = setting("smtpsslcertpath") {
        if cert.value.isEmpty { account.certificateCheckOff = cert } else { account.caFile = cert.value }
      }
      if let auth = setting("smtpauth") { account.authMethod = Setting(auth.value.lowercased(), path: auth.path, line: auth.line) }
      if let pass = entry("smtppass"), let file = files[pass.origin] {
        let sub = pass.key.split(separator: ".").count == 3 ? identity : nil
        if let found = GitSyntax.locate(section: "sendemail", subsection: sub, name: "smtppass", in: file), let range = found.value {
          account.plaintext = PlaintextSecret(path: pass.origin, line: found.line, keyword: "smtpPass", range: range, quoting: .git, owner: name)
        }
      }
      accounts.append(account)
    }
  }
}

import MailcredCore

/// How neomutt splits a muttrc line: blanks separate tokens; `"..."` takes `\` escapes, `'...'` is
/// literal, `\` outside quotes escapes one byte; `#` outside quotes starts a comment, `;` ends a command,
/// and `=` stands alone (`set a=b` is `set`, `a`, `=`, `b`). Backticks are command substitution, run by
/// neomutt while reading: mailcred records the command and never runs it.
public enum MuttSyntax {
  public struct Token {
    public enum Kind { case word, equals, semicolon }
    public var kind: Kind
    public var value: [UInt8]
    public var range: Range<Int>
    public var unterminated = false
    /// Whether any part was quoted (a quoted `#` is not a comment, a quoted `=` not a separator).
    public var quoted = false
  }

  public static func tokens(_ line: [UInt8]) -> [Token] {
    var result: [Token] = []
    var i = 0
    let blank = MsmtpSyntax.isBlank
    while i < line.count {
      while i < line.count, blank(line[i]) { i += 1 }
      guard i < line.count, line[i] != UInt8(ascii: "#") else { break }
      if line[i] == UInt8(ascii: "=") || line[i] == UInt8(ascii: ";") {
        result.append(Token(kind: line[i] == UInt8(ascii: "=") ? .equals : .semicolon, value: [line[i]], range: i..<(i + 1)))
        i += 1
        continue
      }
      let start = i
      var value: [UInt8] = []
      var quote: UInt8? = nil
      var wasQuoted = false
      while i < line.count {
        let byte = line[i]
        if let q = quote {
          if byte == q { quote = nil; i += 1; continue }
          if q == UInt8(ascii: "\""), byte == UInt8(ascii: "\\"), i + 1 < line.count {
            value.append(unescape(line[i + 1]))
            i += 2
            continue
          }
          value.append(byte)
          i += 1
          continue
        }
        if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") { quote = byte; wasQuoted = true; i += 1; continue }
        if byte == UInt8(ascii: "\\"), i + 1 < line.count { value.append(line[i + 1]); i += 2; continue }
        if blank(byte) || byte == UInt8(ascii: "=") || byte == UInt8(ascii: ";") || byte == UInt8(ascii: "#") { break }
        value.append(byte)
        i += 1
      }
      result.append(Token(kind: .word, value: value, range: start..<i, unterminated: quote != nil, quoted: wasQuoted))
    }
    return result
  }

  static func unescape(_ byte: UInt8) -> UInt8 {
    switch byte {
    case UInt8(ascii: "n"): return 0x0a
    case UInt8(ascii: "t"): return 0x09
    case UInt8(ascii: "r"): return 0x0d
    default: return byte
    }
  }

  /// A value between double quotes, escaped as neomutt reads it back.
  public static func quote(_ value: String) -> String { backslashQuoted(value) }

  /// The command inside a value that is one backtick substitution (`` `mailcred get work` ``).
  public static func backtickCommand(_ value: String) -> String? {
    guard value.count >= 2, value.hasPrefix("`"), value.hasSuffix("`") else { return nil }
    let inner = String(value.dropFirst().dropLast())
    return inner.contains("`") ? nil : inner
  }
}

/// The parts of a mail URL (`smtps://user:pass@host:465/`), with the byte range of the password so that
/// it can be read into a `SecretBytes` or cut out without ever becoming a String.
public struct MailURL: Equatable, Sendable {
  public var scheme: String
  public var user: String?
  public var host: String
  public var port: Int?
  /// Byte range of the (still percent-encoded) password within the bytes parsed, `:` excluded.
  public var passwordRange: Range<Int>?

  /// Parses `bytes`; never turns the password into a String.
  public init?(_ bytes: [UInt8]) {
    guard let schemeEnd = find(bytes, Array("://".utf8), from: 0) else { return nil }
    scheme = String(decoding: bytes[..<schemeEnd], as: UTF8.self).lowercased()
    let authorityStart = schemeEnd + 3
    let authorityEnd = bytes[authorityStart...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.count
    var hostStart = authorityStart
    if let at = bytes[authorityStart..<authorityEnd].lastIndex(of: UInt8(ascii: "@")) {
      let userinfo = authorityStart..<at
      if let colon = bytes[userinfo].firstIndex(of: UInt8(ascii: ":")) {
        user = percentDecoded(Array(bytes[authorityStart..<colon]))
        passwordRange = (colon + 1)..<at
      } else {
        user = percentDecoded(Array(bytes[userinfo]))
      }
      hostStart = at + 1
    }
    let hostPort = String(decoding: bytes[hostStart..<authorityEnd], as: UTF8.self)
    if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]"), let value = Int(hostPort[hostPort.index(after: colon)...]) {
      host = String(hostPort[..<colon])
      port = value
    } else {
      host = hostPort
    }
    host = host.trimmingCharacters(in: ["[", "]"])
    if host.isEmpty { return nil }
  }
}

func find(_ haystack: [UInt8], _ needle: [UInt8], from start: Int) -> Int? {
  guard needle.count <= haystack.count else { return nil }
  var i = start
  while i + needle.count <= haystack.count {
    if Array(haystack[i..<(i + needle.count)]) == needle { return i }
    i += 1
  }
  return nil
}

/// `%40` → `@`; invalid escapes stay as they are.
func percentDecodedBytes(_ bytes: [UInt8]) -> [UInt8] {
  var out: [UInt8] = []
  var i = 0
  while i < bytes.count {
    if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count + 0, i + 2 <= bytes.count - 1,
      let value = UInt8(String(decoding: bytes[(i + 1)...(i + 2)], as: UTF8.self), radix: 16)
    {
      out.append(value)
      i += 3
    } else {
      out.append(bytes[i])
      i += 1
    }
  }
  return out
}

func percentDecoded(_ bytes: [UInt8]) -> String { String(decoding: percentDecodedBytes(bytes), as: UTF8.self) }

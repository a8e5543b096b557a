/// git's credential helper message (gitcredentials(7), git-credential(1)): `key=value` lines up to a blank
/// line or end of input. Multi-valued keys end in `[]`; an empty `key[]=` resets that key's list. Unknown
/// keys are kept and ignored, "to future-proof us" as git's own helpers say.
public struct GitCredentialMessage: Equatable, Sendable {
  public enum ParseError: Error, Equatable, CustomStringConvertible {
    case lineTooLong(Int)
    case nul(line: Int)
    case malformed(line: Int)
    case invalidUTF8(line: Int)

    public var description: String {
      switch self {
      case .lineTooLong(let line): return "credential input line \(line) is longer than 65535 bytes"
      case .nul(let line): return "credential input line \(line) contains a NUL byte"
      case .malformed(let line): return "credential input line \(line) is not key=value"
      case .invalidUTF8(let line): return "credential input line \(line) is not valid UTF-8"
      }
    }
  }

  public static let maximumLineLength = 65535

  /// The keys mailcred acts on; a line of any other key may be longer than `maximumLineLength`.
  static let readKeys: Set<String> = [
    "protocol", "host", "path", "username", "password", "url", "password_expiry_utc", "oauth_refresh_token",
    "authtype", "credential", "ephemeral", "capability[]",
  ]

  /// The keys whose values are secrets: never made into a String, kept in `secrets`.
  public static let secretKeys: Set<String> = ["password", "credential", "oauth_refresh_token"]

  /// Single-valued keys, last one wins (as in git); the secret ones are in `secrets`.
  public var values: [String: String] = [:]
  /// `password`, `credential` (authtype) and `oauth_refresh_token`, straight from the input bytes into
  /// wipeable buffers.
  public var secrets: [String: SecretBytes] = [:]
  /// Multi-valued keys, without the `[]`.
  public var lists: [String: [String]] = [:]

  public init() {}

  public subscript(key: String) -> String? {
    get { values[key] }
    set { values[key] = newValue }
  }

  public var proto: String? { values["protocol"] }
  public var host: String? { values["host"] }
  public var username: String? { values["username"] }
  public var password: SecretBytes? { secrets["password"] }
  /// An authtype credential (`credential=`).
  public var credential: SecretBytes? { secrets["credential"] }
  public var refreshToken: SecretBytes? { secrets["oauth_refresh_token"] }
  public var path: String? { values["path"] }

  /// Parses helper input. Stops at the first empty line; input without one ends at EOF. CRLF is accepted.
  public static func parse<Input: RandomAccessCollection<UInt8>>(_ input: Input) throws(ParseError) -> GitCredentialMessage
  where Input.Index == Int {
    var message = GitCredentialMessage()
    var lineNumber = 0
    var start = 0
    while start < input.count {
      lineNumber += 1
      var end = start
      while end < input.count && input[end] != 0x0a { end += 1 }
      var line = input[start..<end]
      start = end + 1
      if line.last == 0x0d { line = line.dropLast() }
      if line.isEmpty { break }
      if line.count > maximumLineLength {
        // A long line of a key mailcred does not read (`wwwauth[]` carries a server's whole
        // WWW-Authenticate header) is skipped whole: it never becomes a second line, and never an error.
        // Keys mailcred reads are bounded, so a runaway value is bad input, not a silent truncation.
        let key = line.firstIndex(of: UInt8(ascii: "=")).map { String(decoding: line[line.startIndex..<$0], as: UTF8.self) }
        if let key, !Self.readKeys.contains(key) { continue }
        throw .lineTooLong(lineNumber)
      }
      if line.contains(0) { throw .nul(line: lineNumber) }
      guard let equals = line.firstIndex(of: UInt8(ascii: "=")), equals > line.startIndex else {
        throw .malformed(line: lineNumber)
      }
      guard let key = String(validating: line[line.startIndex..<equals], as: UTF8.self) else { throw .invalidUTF8(line: lineNumber) }
      if secretKeys.contains(key) {
        let secret = SecretBytes(copying: line[line.index(after: equals)...])
        guard secret.isValidUTF8 else { throw .invalidUTF8(line: lineNumber) }
        message.secrets[key] = secret
        continue
      }
      guard let value = String(validating: line[line.index(after: equals)...], as: UTF8.self) else { throw .invalidUTF8(line: lineNumber) }
      if key.hasSuffix("[]") {
        let name = String(key.dropLast(2))
        if value.isEmpty { message.lists[name] = nil } else { message.lists[name, default: []].append(value) }
      } else if key == "url" {
        message.apply(url: value)
      } else {
        message.values[key] = value
      }
    }
    return message
  }

  /// Fills protocol/host/path/username/password from `url=` as git does.
  mutating func apply(url: String) {
    guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return }
    values["protocol"] = String(url[..<colon])
    var rest = url[url.index(colon, offsetBy: 3)...]
    var pathPart: Substring?
    if let slash = rest.firstIndex(of: "/") {
      pathPart = rest[rest.index(after: slash)...]
      rest = rest[..<slash]
    }
    if let at = rest.lastIndex(of: "@") {
      let userinfo = rest[..<at]
      rest = rest[rest.index(after: at)...]
      if let colon = userinfo.firstIndex(of: ":") {
        values["username"] = percentDecoded(userinfo[..<colon])
        // A password in a URL was text already (git's own url= parsing); it is a secret from here on.
        secrets["password"] = SecretBytes(taking: Array(percentDecoded(userinfo[userinfo.index(after: colon)...]).utf8))
      } else {
        values["username"] = percentDecoded(userinfo)
      }
    }
    values["host"] = String(rest)
    if let pathPart, !pathPart.isEmpty { values["path"] = percentDecoded(pathPart) }
  }

  /// The reply lines. A value holding NUL, CR or LF is never written (it would inject a line).
  public func serialized(order: [String] = ["protocol", "host", "path", "username", "password", "password_expiry_utc", "oauth_refresh_token"]) -> SecretBytes {
    var out = SecretBuffer(capacity: 256)
    for key in order {
      if let value = values[key] { out.appendLine(key, value) }
      if let secret = secrets[key] { out.appendLine(key, secret) }
    }
    for key in values.keys.sorted() where !order.contains(key) { out.appendLine(key, values[key]!) }
    for key in secrets.keys.sorted() where !order.contains(key) { out.appendLine(key, secrets[key]!) }
    for key in lists.keys.sorted() { for value in lists[key]! { out.appendLine(key + "[]", value) } }
    return out.finish()
  }
}

extension SecretBuffer {
  /// `key=value\n` of a helper message; a value holding NUL, CR or LF is left out (it would inject a line).
  mutating func appendLine(_ key: String, _ value: String) {
    if value.utf8.contains(where: { $0 == 0 || $0 == 0x0a || $0 == 0x0d }) { return }
    append(key)
    append(UInt8(ascii: "="))
    append(value)
    append(0x0a)
  }

  mutating func appendLine(_ key: String, _ value: SecretBytes) {
    if value.contains(where: { $0 == 0 || $0 == 0x0a || $0 == 0x0d }) { return }
    append(key)
    append(UInt8(ascii: "="))
    append(value)
    append(0x0a)
  }
}

private func percentDecoded(_ text: Substring) -> String {
  var bytes: [UInt8] = []
  var iterator = Array(text.utf8).makeIterator()
  while let byte = iterator.next() {
    if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
    {
      bytes.append(value)
    } else {
      bytes.append(byte)
    }
  }
  return String(decoding: bytes, as: UTF8.self)
}

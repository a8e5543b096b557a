import MailcredCore

/// JSON as OpenBao's HTTP API speaks it: nested objects (`data.data`, `data.custom_metadata`), arrays
/// (`data.keys`, `errors`). String values stay bytes, so that the one secret a read carries can be moved
/// into `SecretBytes` and every copy wiped; Foundation's decoder would leave Swift `String`s behind.
indirect enum BaoJSON: Sendable {
  case object([(key: String, value: BaoJSON)])
  case array([BaoJSON])
  case string([UInt8])
  case number(String)
  case bool(Bool)
  case null

  subscript(key: String) -> BaoJSON? {
    guard case .object(let members) = self else { return nil }
    return members.last { $0.key == key }?.value
  }

  /// A string value as text (never for the secret).
  var text: String? {
    guard case .string(let bytes) = self else { return nil }
    return String(decoding: bytes, as: UTF8.self)
  }

  var integer: Int? {
    if case .number(let text) = self { return Int(text) }
    return nil
  }

  var array: [BaoJSON]? {
    guard case .array(let values) = self else { return nil }
    return values
  }

  /// An object whose values are all strings (custom_metadata): the attributes.
  var stringMap: [String: String]? {
    guard case .object(let members) = self else { return nil }
    var map: [String: String] = [:]
    for (key, value) in members {
      guard let text = value.text else { return nil }
      map[key] = text
    }
    return map
  }

  /// Zeroes every string held (answers that carried a secret).
  mutating func wipe() {
    switch self {
    case .string(var bytes):
      self = .null
      MailcredCore.wipe(&bytes)
    case .object(var members):
      self = .null
      for index in members.indices { members[index].value.wipe() }
    case .array(var values):
      self = .null
      for index in values.indices { values[index].wipe() }
    default: break
    }
  }

  static func parse(_ bytes: [UInt8]) -> BaoJSON? {
    var parser = BaoJSONParser(bytes: bytes)
    guard let value = parser.value(depth: 0) else { return nil }
    parser.skipSpace()
    return parser.index == bytes.count ? value : nil
  }
}

/// Writes a JSON string literal (quotes included) into `out`, escaping as RFC 8259 requires.
func appendJSONString<Bytes: Sequence>(_ value: Bytes, to out: inout [UInt8]) where Bytes.Element == UInt8 {
  jsonQuoted(value) { out.append($0) }
}

/// A secret as a JSON string, into wipeable memory (request bodies that carry a secret).
func appendJSONString(_ value: SecretBytes, to out: inout SecretBuffer) {
  value.withUnsafeBytes { raw in jsonQuoted(raw) { out.append($0) } }
}

/// `value` quoted and escaped as a JSON string, byte by byte into `emit`.
private func jsonQuoted<Bytes: Sequence<UInt8>>(_ value: Bytes, _ emit: (UInt8) -> Void) {
  let hex: [UInt8] = Array("0123456789abcdef".utf8)
  emit(UInt8(ascii: "\""))
  for byte in value {
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"):
      emit(UInt8(ascii: "\\"))
      emit(byte)
    case 0..<0x20:
      for escape in "\\u00".utf8 { emit(escape) }
      emit(hex[Int(byte >> 4)])
      emit(hex[Int(byte & 15)])
    default: emit(byte)
    }
  }
  emit(UInt8(ascii: "\""))
}

/// A JSON object of string members, keys sorted (requests: custom_metadata, options).
func jsonObject(_ members: [String: String]) -> String {
  var out: [UInt8] = [UInt8(ascii: "{")]
  for (index, key) in members.keys.sorted().enumerated() {
    if index > 0 { out.append(UInt8(ascii: ",")) }
    appendJSONString(key.utf8, to: &out)
    out.append(UInt8(ascii: ":"))
    appendJSONString(members[key]!.utf8, to: &out)
  }
  out.append(UInt8(ascii: "}"))
  return String(decoding: out, as: UTF8.self)
}

private struct BaoJSONParser {
  let bytes: [UInt8]
  var index = 0

  init(bytes: [UInt8]) { self.bytes = bytes }

  mutating func value(depth: Int) -> BaoJSON? {
    guard depth < 64 else { return nil }
    skipSpace()
    guard index < bytes.count else { return nil }
    switch bytes[index] {
    case UInt8(ascii: "{"):
      index += 1
      var members: [(key: String, value: BaoJSON)] = []
      skipSpace()
      if peek() == UInt8(ascii: "}") { index += 1; return .object(members) }
      while true {
        skipSpace()
        guard peek() == UInt8(ascii: "\""), let key = string() else { return nil }
        skipSpace()
        guard peek() == UInt8(ascii: ":") else { return nil }
        index += 1
        guard let member = value(depth: depth + 1) else { return nil }
        members.append((String(decoding: key, as: UTF8.self), member))
        skipSpace()
        if peek() == UInt8(ascii: ",") { index += 1; continue }
        if peek() == UInt8(ascii: "}") { index += 1; return .object(members) }
        return nil
      }
    case UInt8(ascii: "["):
      index += 1
      var values: [BaoJSON] = []
      skipSpace()
      if peek() == UInt8(ascii: "]") { index += 1; return .array(values) }
      while true {
        guard let element = value(depth: depth + 1) else { return nil }
        values.append(element)
        skipSpace()
        if peek() == UInt8(ascii: ",") { index += 1; continue }
        if peek() == UInt8(ascii: "]") { index += 1; return .array(values) }
        return nil
      }
    case UInt8(ascii: "\""): return string().map { .string($0) }
    case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
    case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
    case UInt8(ascii: "n"): return literal("null") ? .null : nil
    default:
      let start = index
      while let byte = peek(), (byte >= 0x30 && byte <= 0x39) || "+-.eE".utf8.contains(byte) { index += 1 }
      guard index > start else { return nil }
      return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }
  }

  /// A string's unescaped bytes (MailcredCore's one JSON string reader); nil when malformed.
  mutating func string() -> [UInt8]? {
    guard case .success(let read) = readJSONString(bytes, at: index) else { return nil }
    index = read.next
    return read.value
  }

  mutating func literal(_ word: String) -> Bool {
    let expected = Array(word.utf8)
    guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else { return false }
    index += expected.count
    return true
  }

  func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

  mutating func skipSpace() {
    while let byte = peek(), byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09 { index += 1 }
  }
}

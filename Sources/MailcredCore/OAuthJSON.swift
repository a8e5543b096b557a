/// The top-level members of a JSON object, as OAuth2 endpoints answer (RFC 6749 5.1, 5.2; RFC 8628 3.2).
///
/// Written here rather than taken from Foundation's decoder because the answers carry tokens: decoded
/// into Swift `String`s they could never be wiped. String values stay bytes (unescaped) until the caller
/// moves a token into `SecretBytes` or turns a harmless field (`error`, `token_type`) into text. Nested
/// objects and arrays are validated and skipped: no field mailcred reads is nested.
public struct OAuthJSON: Sendable {
  public enum Value: Sendable, Equatable {
    case string([UInt8])
    /// The number as written (`3599`, `3.6e3`).
    case number(String)
    case bool(Bool)
    case null
    /// An object or array, skipped.
    case nested
  }

  public struct SyntaxError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "malformed JSON at byte \(offset): \(reason)" }
  }

  /// Members in document order (a repeated key: the last one wins in `subscript`).
  public private(set) var members: [(key: String, value: Value)] = []

  /// Nesting deeper than this is refused (a hostile endpoint must not exhaust the stack).
  static let maximumDepth = 32

  public init(parsing bytes: [UInt8]) throws(SyntaxError) {
    var parser = Parser(bytes: bytes)
    members = try parser.topLevelObject()
  }

  public subscript(key: String) -> Value? {
    members.last { $0.key == key }?.value
  }

  /// A string member as text, for fields that are never secret (`error`, `token_type`, `verification_uri`).
  public func text(_ key: String) -> String? {
    guard case .string(let bytes)? = self[key] else { return nil }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// A string member moved into a wipeable buffer (tokens, codes).
  public func secret(_ key: String) -> SecretBytes? {
    guard case .string(let bytes)? = self[key], !bytes.isEmpty else { return nil }
    // A copy with one owner: the member's own buffer is zeroed by `wipe()`.
    return SecretBytes(taking: bytes.withUnsafeBufferPointer { Array($0) })
  }

  /// A whole number, given as a number or as a string of digits (some servers quote `expires_in`).
  public func integer(_ key: String) -> Int? {
    switch self[key] {
    case .number(let text)?:
      if let value = Int(text) { return value }
      return Double(text).flatMap { $0.isFinite && abs($0) < 1e15 ? Int($0) : nil }
    case .string(let bytes)?:
      return Int(String(decoding: bytes, as: UTF8.self))
    default:
      return nil
    }
  }

  /// Zeroes every string value held (call when done with an answer that carried tokens).
  public mutating func wipe() {
    for index in members.indices {
      if case .string(var bytes) = members[index].value {
        // Drop the member's reference first, so that the zeroing happens in place, not in a copy.
        members[index].value = .null
        MailcredCore.wipe(&bytes)
      }
    }
    members = []
  }

  private struct Parser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func topLevelObject() throws(SyntaxError) -> [(key: String, value: Value)] {
      skipSpace()
      guard peek() == UInt8(ascii: "{") else { throw error("expected an object") }
      index += 1
      var members: [(key: String, value: Value)] = []
      skipSpace()
      if peek() == UInt8(ascii: "}") {
        index += 1
      } else {
        while true {
          skipSpace()
          guard peek() == UInt8(ascii: "\"") else { throw error("expected a member name") }
          var keyBytes = try string()
          let key = String(decoding: keyBytes, as: UTF8.self)
          MailcredCore.wipe(&keyBytes)
          skipSpace()
          try expect(UInt8(ascii: ":"))
          let value = try self.value(depth: 1)
          members.append((key, value))
          skipSpace()
          if peek() == UInt8(ascii: ",") {
            index += 1
            continue
          }
          try expect(UInt8(ascii: "}"))
          break
        }
      }
      skipSpace()
      guard index == bytes.count else { throw error("text after the object") }
      return members
    }

    mutating func value(depth: Int) throws(SyntaxError) -> Value {
      guard depth <= OAuthJSON.maximumDepth else { throw error("nested too deeply") }
      skipSpace()
      guard let byte = peek() else { throw error("unexpected end") }
      switch byte {
      case UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "{"): try skipContainer(close: UInt8(ascii: "}"), depth: depth, keyed: true); return .nested
      case UInt8(ascii: "["): try skipContainer(close: UInt8(ascii: "]"), depth: depth, keyed: false); return .nested
      case UInt8(ascii: "t"): try literal("true"); return .bool(true)
      case UInt8(ascii: "f"): try literal("false"); return .bool(false)
      case UInt8(ascii: "n"): try literal("null"); return .null
      default: return .number(try number())
      }
    }

    mutating func skipContainer(close: UInt8, depth: Int, keyed: Bool) throws(SyntaxError) {
      index += 1
      skipSpace()
      if peek() == close {
        index += 1
        return
      }
      while true {
        skipSpace()
        if keyed {
          guard peek() == UInt8(ascii: "\"") else { throw error("expected a member name") }
          var key = try string()
          MailcredCore.wipe(&key)
          skipSpace()
          try expect(UInt8(ascii: ":"))
        }
        if case .string(var inner) = try value(depth: depth + 1) { MailcredCore.wipe(&inner) }
        skipSpace()
        if peek() == UInt8(ascii: ",") {
          index += 1
          continue
        }
        try expect(close)
        return
      }
    }

    /// A string's unescaped bytes, in a buffer sized once (no abandoned copies while growing).
    mutating func string() throws(SyntaxError) -> [UInt8] {
      switch readJSONString(bytes, at: index) {
      case .success(let read):
        index = read.next
        return read.value
      case .failure(let failure):
        index = failure.offset
        throw error(failure.reason)
      }
    }

    mutating func number() throws(SyntaxError) -> String {
      let start = index
      while let byte = peek(),
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
          || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e")
          || byte == UInt8(ascii: "E")
      {
        index += 1
      }
      guard index > start else { throw error("unexpected character") }
      let text = String(decoding: bytes[start..<index], as: UTF8.self)
      guard Double(text) != nil else { throw error("bad number") }
      return text
    }

    mutating func literal(_ word: StaticString) throws(SyntaxError) {
      let count = word.utf8CodeUnitCount
      guard index + count <= bytes.count,
        bytes[index..<index + count].elementsEqual(UnsafeBufferPointer(start: word.utf8Start, count: count))
      else { throw error("unexpected word") }
      index += count
    }

    mutating func expect(_ byte: UInt8) throws(SyntaxError) {
      guard peek() == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
      index += 1
    }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpace() {
      while let byte = peek(), byte == 0x20 || byte == 0x0a || byte == 0x0d || byte == 0x09 { index += 1 }
    }

    func error(_ reason: String) -> SyntaxError { SyntaxError(offset: index, reason: reason) }
  }
}

func hexDigit(_ byte: UInt8) -> UInt8? {
  switch byte {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
  default: return nil
  }
}

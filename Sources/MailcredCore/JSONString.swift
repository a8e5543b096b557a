/// One JSON string, read from raw bytes into a buffer reserved once (no abandoned partial copies when the
/// string is a secret; a failure wipes what was read). Shared by every JSON reader mailcred has (OAuth
/// token responses, OpenBao's KV answers).
public struct JSONStringFailure: Error, Equatable, Sendable {
  /// Where reading stopped.
  public var offset: Int
  public var reason: String
}

/// Reads the string whose opening quote is at `bytes[start]`: its unescaped bytes and the index just after
/// the closing quote.
public func readJSONString(_ bytes: [UInt8], at start: Int) -> Result<(value: [UInt8], next: Int), JSONStringFailure> {
  var index = start + 1
  var end = index
  while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
  guard end < bytes.count else { return .failure(JSONStringFailure(offset: index, reason: "unterminated string")) }
  var out: [UInt8] = []
  out.reserveCapacity(end - index)
  func fail(_ reason: String) -> Result<(value: [UInt8], next: Int), JSONStringFailure> {
    wipe(&out)
    return .failure(JSONStringFailure(offset: index, reason: reason))
  }
  while index < end {
    let byte = bytes[index]
    if byte < 0x20 { return fail("control character in a string") }
    if byte != UInt8(ascii: "\\") {
      out.append(byte)
      index += 1
      continue
    }
    let escaped = bytes[index + 1]
    index += 2
    switch escaped {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
    case UInt8(ascii: "b"): out.append(8)
    case UInt8(ascii: "f"): out.append(12)
    case UInt8(ascii: "n"): out.append(10)
    case UInt8(ascii: "r"): out.append(13)
    case UInt8(ascii: "t"): out.append(9)
    case UInt8(ascii: "u"):
      guard var scalar = hex4(bytes, at: index) else { return fail("bad \\u escape") }
      index += 4
      if (0xD800..<0xDC00).contains(scalar), index + 6 <= end, bytes[index] == UInt8(ascii: "\\"),
        bytes[index + 1] == UInt8(ascii: "u"), let low = hex4(bytes, at: index + 2), (0xDC00..<0xE000).contains(low)
      {
        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        index += 6
      }
      // A \u escape never yields more than 3 UTF-8 bytes per 6 escaped bytes: the reserve holds.
      out.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}")!)
    default:
      return fail("bad escape")
    }
  }
  return .success((out, end + 1))
}

private func hex4(_ bytes: [UInt8], at position: Int) -> UInt32? {
  guard position + 4 <= bytes.count else { return nil }
  var value: UInt32 = 0
  for byte in bytes[position..<position + 4] {
    guard let digit = hexDigit(byte) else { return nil }
    value = value << 4 | UInt32(digit)
  }
  return value
}

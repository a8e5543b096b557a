/// RFC 4648 base64 encoding, here so that Core needs no Foundation.
///
/// Encoding appends into a caller-owned buffer whose capacity the caller reserves up front: a secret's
/// encoding must never be left behind in a buffer the array abandoned while growing.
enum Base64 {
  private static let alphabet: [UInt8] = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

  static func encode(_ input: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) {
    var index = 0
    while index + 3 <= input.count {
      let n = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
      out.append(alphabet[Int(n >> 18 & 63)])
      out.append(alphabet[Int(n >> 12 & 63)])
      out.append(alphabet[Int(n >> 6 & 63)])
      out.append(alphabet[Int(n & 63)])
      index += 3
    }
    let rest = input.count - index
    if rest > 0 {
      let n = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
      out.append(alphabet[Int(n >> 18 & 63)])
      out.append(alphabet[Int(n >> 12 & 63)])
      out.append(rest == 2 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
      out.append(UInt8(ascii: "="))
    }
  }

  static func encode(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(encodedCount(bytes.count))
    bytes.withUnsafeBytes { encode($0, appendingTo: &out) }
    return String(decoding: out, as: UTF8.self)
  }
}

// Reading D-Bus messages that arrive on the direct client's socket. Whatever a bus sends is untrusted: every
// length is checked against what is left of its message before it is used, a string must be valid UTF-8
// and NUL-terminated, and anything this reader does not expect is `DBusMalformed`, never a crash or a loop.

/// A message this client cannot use (truncated, inconsistent, or of a shape it does not read): the call is
/// left to GDBus, which speaks all of D-Bus.
struct DBusMalformed: Error, Equatable {
  let what: String
  init(_ what: String) { self.what = what }
}

/// The largest message the direct client reads (a `get` reply is a few hundred bytes; `list` of 1000 items
/// is under 1 MiB). A bigger one is left to GDBus rather than buffered.
let directMessageLimit = 16 << 20

/// A cursor over one whole message. Alignment is relative to the message start (where `bytes` starts).
struct DBusReader {
  let bytes: UnsafeRawBufferPointer
  let bigEndian: Bool
  private(set) var offset: Int
  /// Where the value being read (the body, or an array) ends.
  private(set) var end: Int

  init(_ bytes: UnsafeRawBufferPointer, bigEndian: Bool, from offset: Int = 0, to end: Int? = nil) {
    self.bytes = bytes
    self.bigEndian = bigEndian
    self.offset = offset
    self.end = min(end ?? bytes.count, bytes.count)
  }

  var atEnd: Bool { offset >= end }

  mutating func align(_ boundary: Int) throws(DBusMalformed) {
    let padding = (boundary - offset % boundary) % boundary
    guard padding <= end - offset else { throw DBusMalformed("padding past the end") }
    offset += padding
  }

  mutating func byte() throws(DBusMalformed) -> UInt8 {
    guard end - offset >= 1 else { throw DBusMalformed("byte past the end") }
    defer { offset += 1 }
    return bytes[offset]
  }

  mutating func uint32() throws(DBusMalformed) -> UInt32 {
    try align(4)
    guard end - offset >= 4 else { throw DBusMalformed("uint32 past the end") }
    var value: UInt32 = 0
    for i in 0..<4 {
      let byte = UInt32(bytes[offset + (bigEndian ? i : 3 - i)])
      value = value << 8 | byte
    }
    offset += 4
    return value
  }

  mutating func string() throws(DBusMalformed) -> String {
    let length = Int(try uint32())
    return try text(length)
  }

  mutating func objectPath() throws(DBusMalformed) -> String {
    let path = try string()
    guard path.hasPrefix("/") else { throw DBusMalformed("object path without a leading /") }
    return path
  }

  mutating func signature() throws(DBusMalformed) -> String {
    let length = Int(try byte())
    return try text(length)
  }

  /// `ay`: where the bytes are in `bytes`, not a copy (the caller copies a secret into `SecretBytes`).
  mutating func byteArray() throws(DBusMalformed) -> Range<Int> {
    let end = try arrayEnd(elementAlignment: 1)
    defer { offset = end }
    return offset..<end
  }

  /// Reads an array's length and the padding to its first element; returns where the array ends. The
  /// caller reads elements while `offset < ` that end, then must be exactly there.
  mutating func arrayEnd(elementAlignment: Int) throws(DBusMalformed) -> Int {
    let length = Int(try uint32())
    guard length <= 64 << 20 else { throw DBusMalformed("array longer than D-Bus allows") }
    try align(elementAlignment)
    guard length <= end - offset else { throw DBusMalformed("array past the end") }
    return offset + length
  }

  /// `ao`.
  mutating func objectPaths() throws(DBusMalformed) -> [String] {
    let end = try arrayEnd(elementAlignment: 4)
    var paths: [String] = []
    while offset < end { paths.append(try objectPath()) }
    guard offset == end else { throw DBusMalformed("array element past the array") }
    return paths
  }

  /// A variant holding a string, the only kind this client reads (`OpenSession`'s output for "plain").
  mutating func stringVariant() throws(DBusMalformed) -> String {
    guard try signature() == "s" else { throw DBusMalformed("variant of an unexpected type") }
    return try string()
  }

  /// Moves to an array's end after its elements were read; an element overrunning the array is malformed.
  mutating func finishArray(at end: Int) throws(DBusMalformed) {
    guard offset == end else { throw DBusMalformed("array element past the array") }
  }

  private mutating func text(_ length: Int) throws(DBusMalformed) -> String {
    // The length, then that many bytes and a NUL.
    guard length < end - offset else { throw DBusMalformed("string past the end") }
    let range = offset..<(offset + length)
    guard bytes[offset + length] == 0 else { throw DBusMalformed("string without its NUL") }
    guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self), !text.utf8.contains(0)
    else { throw DBusMalformed("string that is not UTF-8") }
    offset += length + 1
    return text
  }
}

/// A message's header: what the client needs to route a reply and read its body.
struct DBusHeader: Equatable {
  var type: UInt8
  var serial: UInt32
  var bigEndian: Bool
  var replySerial: UInt32?
  var errorName: String?
  /// A call's object path and member (what a scripted bus in the tests answers by).
  var path: String?
  var member: String?
  var signature = ""
  var bodyStart: Int
  var bodyLength: Int

  /// The length of the whole message whose first 16 bytes are `prefix`, once they are there; nil while
  /// fewer have arrived.
  static func messageLength(_ prefix: UnsafeRawBufferPointer) throws(DBusMalformed) -> Int? {
    guard prefix.count >= 16 else { return nil }
    guard prefix[0] == UInt8(ascii: "l") || prefix[0] == UInt8(ascii: "B") else { throw DBusMalformed("unknown byte order") }
    guard prefix[3] == 1 else { throw DBusMalformed("unknown protocol version") }
    var reader = DBusReader(UnsafeRawBufferPointer(rebasing: prefix[0..<16]), bigEndian: prefix[0] == UInt8(ascii: "B"), from: 4)
    let body = Int(try reader.uint32())
    _ = try reader.uint32()
    let fields = Int(try reader.uint32())
    guard body <= directMessageLimit, fields <= directMessageLimit else { throw DBusMalformed("message too large") }
    let headerEnd = (16 + fields + 7) / 8 * 8
    guard headerEnd + body <= directMessageLimit else { throw DBusMalformed("message too large") }
    return headerEnd + body
  }

  /// Parses the header of one whole message (`bytes` is exactly the message).
  init(_ bytes: UnsafeRawBufferPointer) throws(DBusMalformed) {
    guard let length = try Self.messageLength(bytes), length == bytes.count else { throw DBusMalformed("length mismatch") }
    bigEndian = bytes[0] == UInt8(ascii: "B")
    type = bytes[1]
    var reader = DBusReader(bytes, bigEndian: bigEndian, from: 4)
    bodyLength = Int(try reader.uint32())
    serial = try reader.uint32()
    guard serial != 0 else { throw DBusMalformed("serial 0") }
    let fieldsEnd = try reader.arrayEnd(elementAlignment: 8)
    var fields = DBusReader(bytes, bigEndian: bigEndian, from: reader.offset, to: fieldsEnd)
    while !fields.atEnd {
      try fields.align(8)
      let code = try fields.byte()
      let type = try fields.signature()
      switch (type, DBusHeaderField(rawValue: code)) {
      case ("u", .replySerial): replySerial = try fields.uint32()
      case ("s", .errorName): errorName = try fields.string()
      case ("o", .path): path = try fields.string()
      case ("s", .member): member = try fields.string()
      case ("g", .signature): signature = try fields.signature()
      case ("s", _), ("o", _): _ = try fields.string()
      case ("g", _): _ = try fields.signature()
      case ("u", _): _ = try fields.uint32()
      default: throw DBusMalformed("header field of an unexpected type")
      }
    }
    bodyStart = (fieldsEnd + 7) / 8 * 8
    guard bodyStart + bodyLength == bytes.count else { throw DBusMalformed("body length mismatch") }
  }
}

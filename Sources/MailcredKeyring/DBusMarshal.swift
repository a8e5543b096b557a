// The D-Bus wire format for the handful of types the direct client sends (see `DirectSecretService`):
// byte, uint32, string, object path, signature, arrays, structs and variants of strings. Little-endian
// only: a message states its byte order, and this side always sends its own.

/// Appends marshalled values. Alignment is relative to the start of `bytes`, so a body marshalled on its own
/// is valid once placed at the 8-aligned offset where a message body starts.
struct DBusWriter {
  private(set) var bytes: [UInt8] = []

  mutating func align(_ boundary: Int) {
    while bytes.count % boundary != 0 { bytes.append(0) }
  }

  mutating func byte(_ value: UInt8) { bytes.append(value) }

  mutating func uint32(_ value: UInt32) {
    align(4)
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func string(_ value: String) {
    let utf8 = Array(value.utf8)
    uint32(UInt32(utf8.count))
    bytes.append(contentsOf: utf8)
    bytes.append(0)
  }

  mutating func objectPath(_ value: String) { string(value) }

  mutating func signature(_ value: String) {
    let utf8 = Array(value.utf8)
    bytes.append(UInt8(utf8.count))
    bytes.append(contentsOf: utf8)
    bytes.append(0)
  }

  /// An array: its length counts the elements only, not the padding to the first one (which is there
  /// even when the array is empty).
  mutating func array(elementAlignment: Int, _ elements: (inout DBusWriter) -> Void) {
    align(4)
    let lengthAt = bytes.count
    uint32(0)
    align(elementAlignment)
    let start = bytes.count
    elements(&self)
    let length = UInt32(bytes.count - start).littleEndian
    withUnsafeBytes(of: length) { raw in
      for i in 0..<4 { bytes[lengthAt + i] = raw[i] }
    }
  }

  /// A struct or dict entry: 8-aligned.
  mutating func structure(_ fields: (inout DBusWriter) -> Void) {
    align(8)
    fields(&self)
  }

  /// `a{ss}`, in the dictionary's order (D-Bus gives a dict's entries no meaning of order).
  mutating func stringDictionary(_ dictionary: [String: String]) {
    array(elementAlignment: 8) { entries in
      for (key, value) in dictionary {
        entries.structure { entry in
          entry.string(key)
          entry.string(value)
        }
      }
    }
  }

  mutating func stringVariant(_ value: String) {
    signature("s")
    string(value)
  }
}

/// A method call as bytes: the fixed header, the header fields (path, interface, member, destination,
/// signature) and the body.
struct DBusMethodCall {
  var serial: UInt32
  var destination: String
  var path: String
  var interface: String
  var member: String
  var signature = ""
  var body: [UInt8] = []
  /// Never D-Bus-activate the destination (what GDBus's G_DBUS_CALL_FLAGS_NO_AUTO_START asks).
  var noAutoStart = true

  var bytes: [UInt8] {
    var message = DBusWriter()
    message.byte(UInt8(ascii: "l"))
    message.byte(DBusMessageType.methodCall.rawValue)
    message.byte(noAutoStart ? 0x2 : 0)
    message.byte(1)  // protocol version
    message.uint32(UInt32(body.count))
    message.uint32(serial)
    message.array(elementAlignment: 8) { fields in
      func field(_ code: DBusHeaderField, _ type: String, _ value: String) {
        fields.structure { entry in
          entry.byte(code.rawValue)
          entry.signature(type)
          if type == "g" { entry.signature(value) } else { entry.string(value) }
        }
      }
      field(.path, "o", path)
      field(.interface, "s", interface)
      field(.member, "s", member)
      field(.destination, "s", destination)
      if !signature.isEmpty { field(.signature, "g", signature) }
    }
    message.align(8)
    return message.bytes + body
  }
}

enum DBusMessageType: UInt8 {
  case methodCall = 1
  case methodReturn = 2
  case error = 3
  case signal = 4
}

enum DBusHeaderField: UInt8 {
  case path = 1
  case interface = 2
  case member = 3
  case errorName = 4
  case replySerial = 5
  case destination = 6
  case sender = 7
  case signature = 8
  case unixFDs = 9
}

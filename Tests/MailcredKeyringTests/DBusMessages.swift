@testable import MailcredKeyring

/// Messages a bus or a Secret Service would send, built with the client's own writer (tests only).
enum DBusMessages {
  static func reply(to serial: UInt32, serial own: UInt32 = 900, type: DBusMessageType = .methodReturn, errorName: String? = nil, signature: String, body: [UInt8]) -> [UInt8] {
    var message = DBusWriter()
    message.byte(UInt8(ascii: "l"))
    message.byte(type.rawValue)
    message.byte(0)
    message.byte(1)
    message.uint32(UInt32(body.count))
    message.uint32(own)
    message.array(elementAlignment: 8) { fields in
      fields.structure { entry in
        entry.byte(DBusHeaderField.replySerial.rawValue)
        entry.signature("u")
        entry.uint32(serial)
      }
      if let errorName {
        fields.structure { entry in
          entry.byte(DBusHeaderField.errorName.rawValue)
          entry.signature("s")
          entry.string(errorName)
        }
      }
      fields.structure { entry in
        entry.byte(DBusHeaderField.sender.rawValue)
        entry.signature("s")
        entry.string(":1.7")
      }
      if !signature.isEmpty {
        fields.structure { entry in
          entry.byte(DBusHeaderField.signature.rawValue)
          entry.signature("g")
          entry.signature(signature)
        }
      }
    }
    message.align(8)
    return message.bytes + body
  }

  static func error(to serial: UInt32, _ name: String, _ text: String) -> [UInt8] {
    var body = DBusWriter()
    body.string(text)
    return reply(to: serial, type: .error, errorName: name, signature: "s", body: body.bytes)
  }

  /// The bus's NameAcquired signal, which arrives between Hello's reply and the others.
  static var nameAcquired: [UInt8] {
    var body = DBusWriter()
    body.string(":1.7")
    var call = DBusMethodCall(
      serial: 2, destination: ":1.7", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus",
      member: "NameAcquired", signature: "s", body: body.bytes)
    call.noAutoStart = false
    var bytes = call.bytes
    bytes[1] = DBusMessageType.signal.rawValue
    return bytes
  }

  static func hello() -> [UInt8] {
    var body = DBusWriter()
    body.string(":1.7")
    return reply(to: 1, signature: "s", body: body.bytes)
  }

  static func searchItems(to serial: UInt32, unlocked: [String], locked: [String] = []) -> [UInt8] {
    var body = DBusWriter()
    for paths in [unlocked, locked] {
      body.array(elementAlignment: 4) { array in for path in paths { array.objectPath(path) } }
    }
    return reply(to: serial, signature: "aoao", body: body.bytes)
  }

  static func openSession(to serial: UInt32) -> [UInt8] {
    var body = DBusWriter()
    body.stringVariant("")
    body.objectPath("/org/freedesktop/secrets/session/s1")
    return reply(to: serial, signature: "vo", body: body.bytes)
  }

  static func secrets(to serial: UInt32, _ items: [(String, [UInt8])]) -> [UInt8] {
    var body = DBusWriter()
    body.array(elementAlignment: 8) { array in
      for (path, secret) in items {
        array.structure { entry in
          entry.objectPath(path)
          entry.structure { value in
            value.objectPath("/org/freedesktop/secrets/session/s1")
            value.array(elementAlignment: 1) { _ in }
            value.array(elementAlignment: 1) { bytes in for byte in secret { bytes.byte(byte) } }
            value.string("text/plain")
          }
        }
      }
    }
    return reply(to: serial, signature: "a{o(oayays)}", body: body.bytes)
  }

  static func attributes(to serial: UInt32, _ attributes: [String: String]) -> [UInt8] {
    var body = DBusWriter()
    body.signature("a{ss}")
    body.array(elementAlignment: 8) { array in
      for (key, value) in attributes.sorted(by: { $0.key < $1.key }) {
        array.structure { entry in
          entry.string(key)
          entry.string(value)
        }
      }
    }
    return reply(to: serial, signature: "v", body: body.bytes)
  }

  static let authOK = Array("OK 0123456789abcdef0123456789abcdef\r\n".utf8)
}

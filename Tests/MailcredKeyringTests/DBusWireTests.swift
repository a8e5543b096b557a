import MailcredCore
import Testing

@testable import MailcredKeyring

/// The direct client's wire code on its own: what it writes parses back, and whatever a bus sends — cut
/// short, corrupted, oversized — is rejected as `DBusMalformed`, never a crash, a hang or a wrong secret.
@Suite struct DBusWireTests {
  let item = "/org/freedesktop/secrets/collection/login/7"

  @Test func aMethodCallParsesBackToItsHeaderAndBody() throws {
    var body = DBusWriter()
    body.string("org.freedesktop.Secret.Item")
    body.string("Attributes")
    let call = DBusMethodCall(
      serial: 42, destination: "org.freedesktop.secrets", path: item, interface: "org.freedesktop.DBus.Properties",
      member: "Get", signature: "ss", body: body.bytes)
    let bytes = call.bytes
    try bytes.withUnsafeBytes { raw throws in
      #expect(try DBusHeader.messageLength(raw) == bytes.count)
      let header = try DBusHeader(raw)
      #expect(header.type == DBusMessageType.methodCall.rawValue)
      #expect(header.serial == 42)
      #expect(header.signature == "ss")
      #expect(header.bodyStart % 8 == 0)
      #expect(raw[2] == 0x2, "NO_AUTO_START: a Secret Service is never activated")
      var reader = DBusReply(header: header, bytes: raw).body()
      #expect(try reader.string() == "org.freedesktop.Secret.Item")
      #expect(try reader.string() == "Attributes")
      #expect(reader.atEnd)
    }
  }

  @Test func aSecretsReplyReadsBackExactly() throws {
    let secret = Array("pa55 wörd\u{1}".utf8)
    let message = DBusMessages.secrets(to: 4, [(item, secret)])
    let secrets = try readSecrets(message)
    #expect(secrets[item]?.bytes == secret)
    #expect(secrets.count == 1)
  }

  @Test func everyTruncationIsIncompleteOrMalformed() throws {
    let message = DBusMessages.secrets(to: 4, [(item, Array("secret".utf8))])
    for cut in 0..<message.count {
      let prefix = Array(message[0..<cut])
      try prefix.withUnsafeBytes { raw throws in
        if let length = (try? DBusHeader.messageLength(raw)) ?? nil {
          #expect(length > cut, "a cut message must not look whole")
        }
        #expect(throws: DBusMalformed.self) { try DBusHeader(raw) }
      }
    }
  }

  @Test func corruptedRepliesNeverCrashAndNeverYieldAnotherSecret() throws {
    let secret = Array("the-real-secret".utf8)
    let original = DBusMessages.secrets(to: 4, [(item, secret)])
    var random = SplitMix(seed: 0x5eed)
    var rejected = 0
    for _ in 0..<20_000 {
      var message = original
      for _ in 0...(random.next() % 4) {
        message[Int(random.next() % UInt64(message.count))] = UInt8(truncatingIfNeeded: random.next())
      }
      // Sometimes a truncated or padded copy as well.
      if random.next() % 4 == 0 { message = Array(message.prefix(Int(random.next() % UInt64(message.count)))) }
      if random.next() % 8 == 0 { message += [UInt8](repeating: UInt8(truncatingIfNeeded: random.next()), count: 8) }
      guard let secrets = try? readSecrets(message) else {
        rejected += 1
        continue
      }
      // What parses must be well-formed D-Bus: a secret that decoded is a contiguous run of the message.
      for value in secrets.values {
        #expect(value.count <= message.count)
      }
    }
    #expect(rejected > 10_000, "most corruptions are caught: \(rejected)")
  }

  @Test func hugeLengthsAreRejectedBeforeAnyAllocation() throws {
    var message = DBusMessages.secrets(to: 4, [(item, Array("s".utf8))])
    // Body length 0xFFFFFFF0.
    message.replaceSubrange(4..<8, with: [0xF0, 0xFF, 0xFF, 0xFF])
    _ = message.withUnsafeBytes { raw in
      #expect(throws: DBusMalformed.self) { try DBusHeader.messageLength(raw) }
    }
    // An array claiming more than its message holds.
    try [UInt8]([0xFF, 0xFF, 0xFF, 0x00, 1, 2, 3, 4]).withUnsafeBytes { raw throws in
      var array = DBusReader(raw, bigEndian: false)
      #expect(throws: DBusMalformed.self) { try array.byteArray() }
      var string = DBusReader(raw, bigEndian: false)
      #expect(throws: DBusMalformed.self) { try string.string() }
    }
  }

  @Test func stringsMustBeUTF8AndNULTerminated() throws {
    for bytes: [UInt8] in [[3, 0, 0, 0, 0x61, 0x62, 0x63, 0x64], [2, 0, 0, 0, 0xff, 0xfe, 0], [2, 0, 0, 0, 0x61, 0, 0]] {
      try bytes.withUnsafeBytes { raw throws in
        var reader = DBusReader(raw, bigEndian: false)
        #expect(throws: DBusMalformed.self) { try reader.string() }
      }
    }
  }

  @Test func bigEndianMessagesAreReadToo() throws {
    // A big-endian uint32 and string, as a peer on a big-endian machine marshals them.
    try [UInt8]([0, 0, 0, 7, 0, 0, 0, 2, 0x68, 0x69, 0]).withUnsafeBytes { raw throws in
      var reader = DBusReader(raw, bigEndian: true)
      #expect(try reader.uint32() == 7)
      #expect(try reader.string() == "hi")
    }
  }

  @Test func addresses() {
    #expect(DBusUnixAddress.parse("unix:path=/run/user/1000/bus") == .path("/run/user/1000/bus"))
    #expect(DBusUnixAddress.parse("unix:path=/tmp/a%20b,guid=0123abcd") == .path("/tmp/a b"))
    #expect(DBusUnixAddress.parse("unix:abstract=/tmp/dbus-XYZ,guid=00") == .abstract("/tmp/dbus-XYZ"))
    #expect(DBusUnixAddress.parse("unix:path=/a;tcp:host=localhost,port=1") == .path("/a"))
    for unsupported in [
      "tcp:host=localhost,port=1234", "unix:tmpdir=/tmp", "unix:path=/a,abstract=b", "unix:path=",
      "unix:path=/a%2", "unix:path=/a%00b", "unix:path=/a,noise=1", "autolaunch:", "", "unix:",
      "unix:path=/a,path=/b",
    ] {
      #expect(DBusUnixAddress.parse(unsupported) == nil, "\(unsupported)")
    }
    #expect(DBusUnixAddress.session { $0 == "DBUS_SESSION_BUS_ADDRESS" ? "unix:path=/x" : nil } == .path("/x"))
    #expect(DBusUnixAddress.session { $0 == "XDG_RUNTIME_DIR" ? "/nonexistent-dir" : nil } == nil)
    #expect(DBusUnixAddress.session { _ in nil } == nil)
  }

  /// The client's own reading of a GetSecrets reply.
  func readSecrets(_ message: [UInt8]) throws -> [String: SecretBytes] {
    try message.withUnsafeBytes { raw throws in
      guard let length = try DBusHeader.messageLength(raw), length == raw.count else { throw DBusMalformed("incomplete") }
      let header = try DBusHeader(raw)
      guard header.signature == "a{o(oayays)}" else { throw DBusMalformed("type") }
      var reader = DBusReply(header: header, bytes: raw).body()
      let secrets = try reader.secretDictionary()
      guard reader.atEnd else { throw DBusMalformed("trailing") }
      return secrets
    }
  }
}

/// A small deterministic generator, so a failing corruption can be replayed.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// The bytes of a secret, zeroed when the last reference goes away.
///
/// Swift `String`s cannot be wiped, so secrets travel as this buffer from the prompt or stdin to the keyring
/// and the network, and are converted to text only where a protocol needs it (and wiped there too).
public final class SecretBytes: @unchecked Sendable {
  public private(set) var bytes: [UInt8]

  /// Takes ownership of `bytes`; the caller must not keep another copy.
  public init(taking bytes: [UInt8]) { self.bytes = bytes }

  public var count: Int { bytes.count }
  public var isEmpty: Bool { bytes.isEmpty }

  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes(body)
  }

  /// Valid UTF-8 is required for anything mailcred stores (every mail protocol and git need text).
  public var isValidUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

  public func contains(_ byte: UInt8) -> Bool { bytes.contains(byte) }

  public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
    // Constant-time on equal lengths: comparisons happen with secrets from two sources.
    guard lhs.bytes.count == rhs.bytes.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<lhs.bytes.count { difference |= lhs.bytes[i] ^ rhs.bytes[i] }
    return difference == 0
  }

  public func wipe() {
    bytes.withUnsafeMutableBytes { raw in
      for i in 0..<raw.count { raw[i] = 0 }
    }
    bytes.removeAll()
  }

  deinit { wipe() }
}

/// Zeroes a byte array in place (for temporary copies such as a SASL message).
public func wipe(_ bytes: inout [UInt8]) {
  bytes.withUnsafeMutableBytes { raw in
    for i in 0..<raw.count { raw[i] = 0 }
  }
  bytes.removeAll()
}

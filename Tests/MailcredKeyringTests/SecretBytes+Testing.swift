import MailcredCore

// Tests read secrets back to compare them; mailcred's own code only borrows them (`withUnsafeBytes`).
extension SecretBytes {
  /// A copy of the bytes, for assertions.
  var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
  /// The bytes as text, for assertions.
  var text: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}

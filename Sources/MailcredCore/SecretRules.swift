/// What `add`, `rotate` and the git helper accept as a secret (DESIGN.md): one line of valid UTF-8, no
/// control characters; leading or trailing white space refused unless asked for (the classic pasted-space
/// mistake); Google-style grouped app passwords (`abcd efgh ijkl mnop`) accepted without their spaces.
public enum SecretRules {
  public struct Accepted {
    public var secret: SecretBytes
    /// Something the user must be told (e.g. spaces removed), or nil.
    public var note: String?
  }

  public static func accept(_ secret: SecretBytes, keepWhitespace: Bool = false) throws(InputError) -> Accepted {
    if secret.isEmpty { throw .secret("empty secret: nothing stored") }
    if secret.count > 4096 { throw .secret("secret longer than 4096 bytes: nothing stored") }
    if secret.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7f }) {
      throw .secret("the secret contains a control character (NUL, CR, LF, ...): nothing stored")
    }
    if !secret.isValidUTF8 { throw .secret("the secret is not valid UTF-8: nothing stored") }
    if secret.withUnsafeBytes(isGroupedAppPassword) {
      var joined = SecretBuffer(capacity: secret.count)
      secret.withUnsafeBytes { joined.append(contentsOf: $0.lazy.filter { $0 != 0x20 }) }
      return Accepted(
        secret: joined.finish(),
        note: "removed the spaces from a grouped app password (Google shows them as 'abcd efgh ijkl mnop')")
    }
    let isBlank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
    let (first, last) = secret.withUnsafeBytes { ($0.first, $0.last) }
    if !keepWhitespace, let first, let last, isBlank(first) || isBlank(last) {
      throw .secret(
        "the secret starts or ends with white space, usually a copy-and-paste slip: nothing stored "
          + "(use \(option: .keepWhitespace) if it really does)")
    }
    return Accepted(secret: secret, note: nil)
  }

  /// Four groups of four ASCII letters separated by single spaces.
  static func isGroupedAppPassword<C: Collection<UInt8>>(_ bytes: C) -> Bool {
    guard bytes.count == 19 else { return false }
    for (index, byte) in bytes.enumerated() {
      if index % 5 == 4 {
        if byte != 0x20 { return false }
      } else if !((byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a)) {
        return false
      }
    }
    return true
  }
}

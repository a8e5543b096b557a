/// What an authentication exchange asks its driver to do next. The driver owns the socket; the exchange
/// owns the protocol. Every `send` is followed by reading the server's answer.
public enum AuthStep {
  /// Read one more line from the server and pass it to `receive`.
  case readLine
  /// Send these bytes (no secret in them), then read.
  case send([UInt8])
  /// Send these bytes, wipe them, then read. They contain the secret (or a SASL encoding of it).
  case sendSecret(SecretBytes)
  /// Upgrade the connection to TLS now (no byte may be left unread), then call `tlsEstablished`.
  case startTLS
  /// The exchange is over. Send `farewell` (QUIT, LOGOUT) if there is one, then close.
  case finished(CheckClass, detail: String, farewell: [UInt8]?)
}

/// An SMTP or IMAP authentication exchange as a state machine: server lines in, steps out, no I/O.
public protocol AuthExchange {
  /// Feeds one server line, without its CRLF.
  mutating func receive(_ line: [UInt8]) -> AuthStep
  /// Called once the TLS handshake asked for by `.startTLS` succeeded.
  mutating func tlsEstablished() -> AuthStep
  /// The verdict when the server closes the connection before the exchange finished.
  func verdictOnClose() -> (CheckClass, String)
}

extension AuthExchange {
  public mutating func receive(_ text: String) -> AuthStep { receive(Array(text.utf8)) }
}

/// The secret and what may be built from it, shared by both protocols.
struct SASLCredentials {
  let user: String
  let secret: SecretBytes

  /// RFC 4616 PLAIN (`\0user\0secret`, no authorization identity) base64-encoded between `prefix` and
  /// CRLF, in one exactly-sized buffer; the intermediate message is wiped.
  func plainLine(prefix: String) -> SecretBytes {
    var message: [UInt8] = []
    message.reserveCapacity(user.utf8.count + secret.count + 2)
    message.append(0)
    message.append(contentsOf: user.utf8)
    message.append(0)
    secret.withUnsafeBytes { message.append(contentsOf: $0) }
    defer { wipe(&message) }
    return base64Line(prefix: prefix, message) 
  }

  /// The secret alone, base64-encoded (SASL LOGIN's answer to the password prompt).
  func secretLine() -> SecretBytes {
    secret.withUnsafeBytes { raw in
      var out: [UInt8] = []
      out.reserveCapacity(Base64.encodedCount(raw.count) + 2)
      Base64.encode(raw, appendingTo: &out)
      out.append(contentsOf: [13, 10])
      return SecretBytes(taking: out)
    }
  }

  /// `prefix`, base64 of `message`, CRLF, in one exactly-sized buffer (PLAIN and the bearer mechanisms).
  func base64Line(prefix: String, _ message: [UInt8]) -> SecretBytes {
    var out: [UInt8] = []
    out.reserveCapacity(prefix.utf8.count + Base64.encodedCount(message.count) + 2)
    out.append(contentsOf: prefix.utf8)
    message.withUnsafeBytes { Base64.encode($0, appendingTo: &out) }
    out.append(contentsOf: [13, 10])
    return SecretBytes(taking: out)
  }

  /// Server text with any echo of the secret or its encodings removed: a server that quotes a bad command
  /// back must not put the secret into a result that is printed and stored.
  func redacting(_ text: String) -> String {
    guard secret.count >= 4 else { return text }
    var needles = [secretLine(), plainLine(prefix: "")]
    needles.append(secret.withUnsafeBytes { SecretBytes(taking: Array($0)) })
    defer { needles.forEach { $0.wipe() } }
    var bytes = Array(text.utf8)
    var changed = false
    for needle in needles {
      var pattern = needle.withUnsafeBytes { Array($0) }
      while let last = pattern.last, last == 10 || last == 13 { pattern.removeLast() }
      guard !pattern.isEmpty else { continue }
      var index = 0
      while index + pattern.count <= bytes.count {
        if bytes[index..<index + pattern.count].elementsEqual(pattern) {
          bytes.replaceSubrange(index..<index + pattern.count, with: Array("[redacted]".utf8))
          changed = true
          index += 10
        } else {
          index += 1
        }
      }
      wipe(&pattern)
    }
    return changed ? String(decoding: bytes, as: UTF8.self) : text
  }
}

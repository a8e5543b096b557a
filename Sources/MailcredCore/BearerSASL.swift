/// The two SASL mechanisms that carry an OAuth2 access token to a mail server.
public enum BearerMechanism: String, Sendable, CaseIterable, Equatable {
  /// Google's and Microsoft's XOAUTH2: `user=USER^Aauth=Bearer TOKEN^A^A`.
  case xoauth2 = "XOAUTH2"
  /// RFC 7628 OAUTHBEARER: a GS2 header, then `host`, `port` and `auth` key/values.
  case oauthbearer = "OAUTHBEARER"

  /// What the client answers to the server's error challenge (a 334 / `+` with base64 JSON) so that the
  /// server sends its final failure: an empty response for XOAUTH2 (Google's and Microsoft's docs), a
  /// single ^A for OAUTHBEARER (RFC 7628 3.2.3).
  var abortResponse: String { self == .xoauth2 ? "\r\n" : "AQ==\r\n" }
}

/// How a check authenticates: with the stored password (PLAIN, LOGIN) or with an access token.
public enum AuthMethod: Sendable, Equatable {
  case password
  /// An OAuth2 access token; `nil` chooses XOAUTH2 when the server offers it, else OAUTHBEARER.
  case bearer(BearerMechanism?)
}

/// What a bearer exchange needs besides the user and the token: OAUTHBEARER names the server.
public struct BearerAuth: Sendable, Equatable {
  public var mechanism: BearerMechanism?
  public var host: String
  public var port: Int

  public init(mechanism: BearerMechanism?, host: String, port: Int) {
    self.mechanism = mechanism
    self.host = host
    self.port = port
  }

  /// The mechanism to use among those offered (upper-case names); nil when none fits.
  func choose(_ offered: [String]) -> BearerMechanism? {
    if let mechanism { return offered.contains(mechanism.rawValue) ? mechanism : nil }
    return [BearerMechanism.xoauth2, .oauthbearer].first { offered.contains($0.rawValue) }
  }

  func refusal(_ offered: [String]) -> String {
    let wanted = mechanism.map { "AUTH \($0.rawValue)" } ?? "XOAUTH2 or OAUTHBEARER"
    return "the server offers AUTH \(offered.joined(separator: " ")); an OAuth2 token needs \(wanted)"
  }
}

extension SASLCredentials {
  /// The mechanism's initial response, base64-encoded between `prefix` and CRLF, in one exactly-sized
  /// buffer; the intermediate message is wiped. `secret` is the access token.
  func bearerLine(_ mechanism: BearerMechanism, _ bearer: BearerAuth, prefix: String) -> SecretBytes {
    let head: String
    let tail = "\u{1}\u{1}"
    switch mechanism {
    case .xoauth2:
      head = "user=\(user)\u{1}auth=Bearer "
    case .oauthbearer:
      // RFC 5801 saslname: ',' and '=' are escaped.
      var name = ""
      for character in user { name += character == "=" ? "=3D" : character == "," ? "=2C" : String(character) }
      head = "n,a=\(name),\u{1}host=\(bearer.host)\u{1}port=\(bearer.port)\u{1}auth=Bearer "
    }
    var message: [UInt8] = []
    message.reserveCapacity(head.utf8.count + secret.count + tail.utf8.count)
    message.append(contentsOf: head.utf8)
    secret.withUnsafeBytes { message.append(contentsOf: $0) }
    message.append(contentsOf: tail.utf8)
    defer { wipe(&message) }
    return base64Line(prefix: prefix, message)
  }
}

/// The server's error challenge (base64 JSON such as `{"status":"401","schemes":"bearer"}`) as one line
/// of text for a result's detail; the raw text when it is not base64.
func bearerChallengeText(_ encoded: String) -> String {
  let trimmed = String(encoded.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
  guard !trimmed.isEmpty else { return "" }
  guard let decoded = base64Decode(trimmed) else { return oneLine(trimmed) }
  return oneLine(String(decoding: decoded, as: UTF8.self))
}

/// RFC 4648 base64 decoding (padding optional); nil on any other character.
func base64Decode(_ text: String) -> [UInt8]? {
  var out: [UInt8] = []
  var accumulator: UInt32 = 0
  var bits = 0
  for byte in text.utf8 {
    let value: UInt8
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
    case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
    case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
    case UInt8(ascii: "+"): value = 62
    case UInt8(ascii: "/"): value = 63
    case UInt8(ascii: "="): continue
    default: return nil
    }
    accumulator = accumulator << 6 | UInt32(value)
    bits += 6
    if bits >= 8 {
      bits -= 8
      out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
    }
  }
  return out
}

extension SASLCredentials {
  /// `redacting(_:)`, and for a bearer exchange also the base64 forms of both mechanisms' messages (a
  /// server quoting the AUTH line back must not put the token into a printed, stored result).
  func redacting(_ text: String, bearer: BearerAuth?) -> String {
    guard let bearer, secret.count >= 4 else { return redacting(text) }
    var result = text
    for mechanism in BearerMechanism.allCases {
      let line = bearerLine(mechanism, bearer, prefix: "")
      var pattern = line.withUnsafeBytes { Array($0) }
      line.wipe()
      while let last = pattern.last, last == 10 || last == 13 { pattern.removeLast() }
      let bytes = Array(result.utf8)
      if let range = firstRange(of: pattern, in: bytes) {
        result = String(decoding: bytes[..<range.lowerBound] + Array("[redacted]".utf8) + bytes[range.upperBound...], as: UTF8.self)
      }
      wipe(&pattern)
    }
    return redacting(result)
  }
}

private func firstRange(of pattern: [UInt8], in bytes: [UInt8]) -> Range<Int>? {
  guard !pattern.isEmpty, pattern.count <= bytes.count else { return nil }
  for start in 0...(bytes.count - pattern.count) where bytes[start..<start + pattern.count].elementsEqual(pattern) {
    return start..<start + pattern.count
  }
  return nil
}

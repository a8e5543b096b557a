/// An `https://` URL as OAuth2 endpoints are given (RFC 6749 3.1, 3.2): host, port, path and query; no
/// user info, no fragment. Plain `http` is refused: the token endpoint receives the refresh token, and
/// every real identity provider serves HTTPS (a self-hosted one with its own CA: `--ca-file`).
public struct HTTPSURL: Sendable, Equatable, CustomStringConvertible {
  public var host: String
  public var port: Int
  /// `/path?query`, as sent in the request line.
  public var target: String

  public init(host: String, port: Int = 443, target: String = "/") {
    self.host = host
    self.port = port
    self.target = target
  }

  public init(parsing text: String) throws(InputError) {
    guard text.lowercased().hasPrefix("https://") else {
      throw .invalid("URL", text, "an OAuth2 endpoint must be an https:// URL")
    }
    let rest = text.dropFirst("https://".count)
    guard !rest.contains("#") else { throw .invalid("URL", text, "a fragment (#...) is not allowed") }
    guard rest.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
      throw .invalid("URL", text, "spaces, control and non-ASCII characters must be percent-encoded")
    }
    let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
    let authority = rest[..<authorityEnd]
    guard !authority.contains("@") else { throw .invalid("URL", text, "user info (user@) is not allowed") }
    let (host, port) = try parseHostPort(String(authority), defaultPort: 443)
    self.host = host
    self.port = port ?? 443
    let path = rest[authorityEnd...]
    target = path.isEmpty ? "/" : (path.hasPrefix("?") ? "/" + path : String(path))
  }

  public var description: String {
    let shownHost = host.contains(":") ? "[\(host)]" : host
    return "https://\(shownHost)\(port == 443 ? "" : ":\(port)")\(target)"
  }

  /// The `Host:` header value.
  public var hostHeader: String {
    let shownHost = host.contains(":") ? "[\(host)]" : host
    return port == 443 ? shownHost : "\(shownHost):\(port)"
  }

  /// This URL with `parameters` appended to its query (the authorization request, RFC 6749 4.1.1).
  public func adding(query parameters: [(String, String)]) -> String {
    let separator = target.contains("?") ? "&" : "?"
    let query = parameters.map { percentEncoded(Array($0.0.utf8)) + "=" + percentEncoded(Array($0.1.utf8)) }
    return description + separator + query.joined(separator: "&")
  }
}

/// One form field's value: plain text, or a secret that only ever lives in wipeable buffers.
public enum FormValue {
  case text(String)
  case secret(SecretBytes)
}

/// An `application/x-www-form-urlencoded` body (RFC 6749 4.1.3, 6; appendix B) built in one exactly-sized
/// buffer, so that no grown-and-abandoned copy of a token is left in memory.
public func formBody(_ fields: [(String, FormValue)]) -> SecretBytes {
  func withBytes<R>(_ value: FormValue, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    switch value {
    case .text(let text): return Array(text.utf8).withUnsafeBytes(body)
    case .secret(let secret): return secret.withUnsafeBytes(body)
    }
  }
  var size = 0
  for (index, (name, value)) in fields.enumerated() {
    size += (index > 0 ? 1 : 0) + encodedLength(Array(name.utf8)) + 1
    size += withBytes(value) { encodedLength($0) }
  }
  var out: [UInt8] = []
  out.reserveCapacity(size)
  for (index, (name, value)) in fields.enumerated() {
    if index > 0 { out.append(UInt8(ascii: "&")) }
    Array(name.utf8).withUnsafeBytes { appendEncoded($0, to: &out) }
    out.append(UInt8(ascii: "="))
    withBytes(value) { appendEncoded($0, to: &out) }
  }
  return SecretBytes(taking: out)
}

/// RFC 3986 unreserved characters pass; everything else is `%XX`.
private func isUnreserved(_ byte: UInt8) -> Bool {
  (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
}

private func encodedLength<C: Collection<UInt8>>(_ bytes: C) -> Int {
  bytes.reduce(0) { $0 + (isUnreserved($1) ? 1 : 3) }
}

private let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

private func appendEncoded<C: Collection<UInt8>>(_ bytes: C, to out: inout [UInt8]) {
  for byte in bytes {
    if isUnreserved(byte) {
      out.append(byte)
    } else {
      out.append(UInt8(ascii: "%"))
      out.append(hexDigits[Int(byte >> 4)])
      out.append(hexDigits[Int(byte & 15)])
    }
  }
}

func percentEncoded(_ bytes: [UInt8]) -> String {
  var out: [UInt8] = []
  out.reserveCapacity(encodedLength(bytes))
  appendEncoded(bytes, to: &out)
  return String(decoding: out, as: UTF8.self)
}

/// The fields of a URL query or form body (`a=1&b=x%20y`), percent- and `+`-decoded, values as bytes (an
/// authorization code is a secret). Keys are text.
public func parseQuery<C: Collection<UInt8>>(_ query: C) -> [(key: String, value: [UInt8])] {
  var fields: [(key: String, value: [UInt8])] = []
  for part in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
    let equals = part.firstIndex(of: UInt8(ascii: "=")) ?? part.endIndex
    var key = percentDecodedBytes(part[part.startIndex..<equals])
    let value = equals < part.endIndex ? percentDecodedBytes(part[part.index(after: equals)...]) : []
    fields.append((String(decoding: key, as: UTF8.self), value))
    wipe(&key)
  }
  return fields
}

private func percentDecodedBytes<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
  var out: [UInt8] = []
  out.reserveCapacity(bytes.count)
  var iterator = bytes.makeIterator()
  while let byte = iterator.next() {
    switch byte {
    case UInt8(ascii: "+"): out.append(0x20)
    case UInt8(ascii: "%"):
      guard let high = iterator.next() else { out.append(byte); break }
      guard let low = iterator.next() else { out.append(byte); out.append(high); break }
      if let h = hexDigit(high), let l = hexDigit(low) {
        out.append(h << 4 | l)
      } else {
        out.append(contentsOf: [byte, high, low])
      }
    default: out.append(byte)
    }
  }
  return out
}

/// RFC 4648 5 base64url without padding (PKCE, RFC 7636 appendix A; `state`).
public func base64URL(_ bytes: [UInt8]) -> String {
  var text = Array(Base64.encode(bytes).utf8)
  while text.last == UInt8(ascii: "=") { text.removeLast() }
  for index in text.indices {
    if text[index] == UInt8(ascii: "+") { text[index] = UInt8(ascii: "-") }
    if text[index] == UInt8(ascii: "/") { text[index] = UInt8(ascii: "_") }
  }
  return String(decoding: text, as: UTF8.self)
}

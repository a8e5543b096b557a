#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL
import MailcredCore

/// OAuth2's HTTPS: one form POST per connection over the same OpenSSL transport as the mail checks
/// (certificate and host-name verification against the system store plus an optional CA file, TLS ≥ 1.2,
/// one deadline for the whole request). No Foundation networking: `get` stays a small, fast process.
public struct HTTPSTransport: OAuthTransport {
  /// Seconds for the whole request: resolving, connecting, TLS, sending and the complete answer.
  public var timeout: Double

  /// Answers larger than this are refused (token answers are a few KiB).
  static let maximumBody = 1 << 20

  public init(timeout: Double = 15) { self.timeout = timeout }

  public func post(_ url: HTTPSURL, form: SecretBytes, caFile: String?) throws(TransportFailure) -> HTTPAnswer {
    // On a thread of its own, as the checks: SIGPIPE blocked there whatever the caller's signal setup.
    let result: Result<HTTPAnswer, TransportFailure> = onJoinedThread {
      do throws(NetError) {
        return .success(try exchange(url, form: form, caFile: caFile))
      } catch {
        let detail = error.isTimeout ? "no answer within \(Int(timeout)) s from \(url.hostHeader)" : error.description
        return .failure(TransportFailure(verdict: error.checkClass, detail: "\(url): \(detail)"))
      }
    }
    return try result.get()
  }

  private func exchange(_ url: HTTPSURL, form: SecretBytes, caFile: String?) throws(NetError) -> HTTPAnswer {
    try httpsRequest(
      method: "POST", url, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: form,
      caFile: caFile, timeout: timeout)
  }
}

/// One HTTP/1.1 request over verified TLS on a connection of its own (`Connection: close`), with one
/// deadline for the whole exchange. Header values must not be secret except through `secretHeaders`
/// (written from their wipeable buffers: the OpenBao token). Shared by OAuth2 and the OpenBao store.
func httpsRequest(
  method: String, _ url: HTTPSURL, headers: [(String, String)] = [], secretHeaders: [(String, SecretBytes)] = [],
  body: SecretBytes?, caFile: String?, timeout: Double
) throws(NetError) -> HTTPAnswer {
  let deadline = Deadline(secondsFromNow: timeout)
  let connection = try openHTTPS(url, caFile: caFile, deadline: deadline)
  return try httpsExchange(
    on: connection, method: method, url, headers: headers, secretHeaders: secretHeaders, body: body,
    keepAlive: false, deadline: deadline
  ).answer
}

/// A verified TLS connection to `url`'s host, for one or more exchanges.
func openHTTPS(_ url: HTTPSURL, caFile: String?, deadline: Deadline) throws(NetError) -> LineConnection {
  let context = try TLSClientContext.shared(caFile: caFile)
  let connection = LineConnection(try connectTCP(host: url.host, port: url.port, deadline: deadline))
  try connection.startTLS(context: context, host: url.host, upgrading: false, deadline: deadline)
  return connection
}

/// One request and its complete answer on an open connection. With `keepAlive`, the connection may serve
/// the next request when `reusable` is true (the server did not close it, the body's end was known).
func httpsExchange(
  on connection: LineConnection, method: String, _ url: HTTPSURL, headers: [(String, String)] = [],
  secretHeaders: [(String, SecretBytes)] = [], body: SecretBytes?, keepAlive: Bool, deadline: Deadline
) throws(NetError) -> (answer: HTTPAnswer, reusable: Bool) {
    var head = "\(method) \(url.target) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUser-Agent: mailcred\r\n"
      + "Accept: application/json\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if let body { head += "Content-Length: \(body.count)\r\n" }
    try connection.write(Array(head.utf8), deadline: deadline)
    for (name, value) in secretHeaders {
      try connection.write(Array("\(name): ".utf8), deadline: deadline)
      try connection.write(value, deadline: deadline)
      try connection.write(Array("\r\n".utf8), deadline: deadline)
    }
    try connection.write(Array((keepAlive ? "\r\n" : "Connection: close\r\n\r\n").utf8), deadline: deadline)
    if let body { try connection.write(body, deadline: deadline) }

    var status: Int
    var headers: [String: String]
    repeat {  // 1xx answers (100 Continue) precede the real one
      status = try statusLine(try connection.readLine(deadline: deadline))
      headers = [:]
      while true {
        let line = try connection.readLine(deadline: deadline)
        if line.isEmpty { break }
        guard headers.count < 100, let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
          throw NetError.io("malformed HTTP header line")
        }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces
        headers[name] = headers[name].map { $0 + "," + value } ?? value
      }
    } while status / 100 == 1

    let chunked = headers["transfer-encoding"]?.lowercased().contains("chunked") == true
    // 204 and 304 have no body whatever the headers say (RFC 9110 6.4.1): never wait for one.
    let length = status == 204 || status == 304 ? 0 : chunked ? nil : headers["content-length"].flatMap { Int($0) }
    let maximumBody = HTTPSTransport.maximumBody
    if let length, length > maximumBody { throw NetError.io("HTTP answer of \(length) bytes is too large") }
    var body = BodyBuffer(capacity: length ?? 16 * 1024)
    while length.map({ body.count < $0 }) ?? true {
      if chunked, let decoded = decodeChunked(body.bytes) { body.replace(with: decoded); break }
      // `var`, wiped below in place: a second reference would make the wipe zero a fresh copy and free
      // the original, token and all, unwiped.
      var more = try connection.readAvailable(deadline: deadline)
      if more.isEmpty {
        if let length, body.count < length { throw NetError.closed }
        if chunked { throw NetError.io("the chunked HTTP answer ended early") }
        // Delimited by the close only: without TLS close_notify, a cut connection would pass for the end.
        if !connection.sawCloseNotify { throw NetError.io("the HTTPS answer ended without a TLS close_notify (cut short?)") }
        break
      }
      body.append(more)
      MailcredCore.wipe(&more)
      if body.count > maximumBody { throw NetError.io("HTTP answer larger than \(maximumBody) bytes") }
    }
    if let length, body.count > length { body.truncate(to: length) }
    let reusable = keepAlive && (length != nil || chunked) && headers["connection"]?.lowercased() != "close"
    return (HTTPAnswer(status: status, body: body.take(), headers: headers), reusable)
}

private func statusLine(_ line: [UInt8]) throws(NetError) -> Int {
    // HTTP/1.1 200 OK
    let text = String(decoding: line.prefix(200), as: UTF8.self)
    let words = text.split(separator: " ", maxSplits: 2)
    guard words.count >= 2, words[0].hasPrefix("HTTP/1."), words[1].count == 3, let code = Int(words[1]) else {
      throw NetError.io("not an HTTP answer: '\(text.prefix(60))'")
    }
    return code
}

/// A growing body that never abandons a copy of its bytes: growing copies into a new buffer and zeroes
/// the old one.
private struct BodyBuffer {
  private(set) var bytes: [UInt8] = []

  init(capacity: Int) { bytes.reserveCapacity(max(capacity, 1024)) }

  var count: Int { bytes.count }

  mutating func append(_ more: [UInt8]) {
    if bytes.count + more.count > bytes.capacity {
      var grown: [UInt8] = []
      grown.reserveCapacity(max(bytes.capacity * 2, bytes.count + more.count))
      grown.append(contentsOf: bytes)
      MailcredCore.wipe(&bytes)
      bytes = grown
    }
    bytes.append(contentsOf: more)
  }

  mutating func replace(with decoded: [UInt8]) {
    MailcredCore.wipe(&bytes)
    bytes = decoded
  }

  mutating func truncate(to length: Int) {
    bytes.withUnsafeMutableBytes { raw in
      for index in length..<raw.count { raw[index] = 0 }
    }
    bytes.removeLast(bytes.count - length)
  }

  mutating func take() -> SecretBytes {
    defer { bytes = [] }
    return SecretBytes(taking: bytes)
  }
}

/// The body of a complete chunked transfer coding (RFC 9112 7.1), or nil while the last chunk is missing.
func decodeChunked(_ raw: [UInt8]) -> [UInt8]? {
  var out: [UInt8] = []
  out.reserveCapacity(raw.count)
  var index = 0
  while true {
    guard let lineEnd = raw[index...].firstIndex(of: 10) else { MailcredCore.wipe(&out); return nil }
    let sizeText = String(decoding: raw[index..<lineEnd], as: UTF8.self)
      .split(separator: ";", maxSplits: 1).first.map { String($0).trimmingSpaces } ?? ""
    guard let size = Int(sizeText, radix: 16), size >= 0 else { MailcredCore.wipe(&out); return nil }
    index = lineEnd + 1
    if size == 0 { return out }  // trailers, if any, are not needed
    guard index + size <= raw.count else { MailcredCore.wipe(&out); return nil }
    out.append(contentsOf: raw[index..<index + size])
    index += size
    // CRLF after the data
    guard let after = raw[index...].firstIndex(of: 10) else { MailcredCore.wipe(&out); return nil }
    index = after + 1
  }
}

extension String {
  fileprivate var trimmingSpaces: String {
    let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
    var text = String(String.UnicodeScalarView(scalars))
    while let last = text.unicodeScalars.last, last == " " || last == "\t" || last == "\r" { text.unicodeScalars.removeLast() }
    return text
  }
}

extension NetError {
  var isTimeout: Bool {
    if case .timeout = self { return true }
    return false
  }
}

// MARK: Randomness and hashing for PKCE and state

public enum OAuthCrypto {
  /// `count` (≤ 256) bytes from the kernel's CSPRNG (getentropy(3)).
  public static func randomBytes(_ count: Int) -> [UInt8] {
    precondition(count <= 256)
    var bytes = [UInt8](repeating: 0, count: count)
    let ok = bytes.withUnsafeMutableBytes { getentropy($0.baseAddress, count) }
    precondition(ok == 0, "getentropy failed")
    return bytes
  }

  /// SHA-256 through OpenSSL's EVP interface.
  public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    if let missing = mailcred_openssl_load() { fatalError(String(cString: missing)) }
    var digest = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    let ok = digest.withUnsafeMutableBufferPointer { out in
      EVP_Digest(bytes.baseAddress, bytes.count, out.baseAddress, &length, EVP_sha256(), nil)
    }
    precondition(ok == 1 && length == 32, "SHA-256 failed")
    return digest
  }

  /// A PKCE pair (RFC 7636 4.1, 4.2): a 43-character verifier from 32 random bytes, and its S256 challenge.
  public static func pkce() -> (verifier: SecretBytes, challenge: String) {
    var random = randomBytes(32)
    let verifier = SecretBytes(taking: Array(base64URL(random).utf8))
    MailcredCore.wipe(&random)
    let challenge = verifier.withUnsafeBytes { base64URL(sha256($0)) }
    return (verifier, challenge)
  }

  /// An unguessable `state` (RFC 6749 10.12).
  public static func state() -> String { base64URL(randomBytes(16)) }
}

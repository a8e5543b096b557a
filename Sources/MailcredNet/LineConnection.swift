#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL
import MailcredCore
import MailcredSystem

/// A line-oriented connection to a mail server, in clear or over TLS, where every operation has a
/// deadline and no line may grow beyond `maxLineLength` (memory stays bounded whatever the server sends).
final class LineConnection {
  static let maxLineLength = 64 * 1024
  private static let chunkSize = 16 * 1024

  let fd: Int32
  let peer: SocketAddress
  private var ssl: OpaquePointer?
  /// Received bytes live in `storage[start..<end]`; one allocation for the connection's life, so a
  /// read costs only what arrived.
  private let storage = UnsafeMutableRawBufferPointer.allocate(
    byteCount: maxLineLength + chunkSize, alignment: 1)
  private var start = 0
  private var end = 0
  /// Bytes after `start` already searched for a newline.
  private var scanned = 0
  /// OpenSSL's reason code (ERR_GET_REASON) of the last TLS failure, 0 for none: the diagnosis of a failed
  /// handshake goes by the code, not by the message text (which OpenSSL versions reword).
  private(set) var tlsFailureReason: Int32 = 0
  /// Whether the TLS peer ended the stream with close_notify. A close without it (OpenSSL 3's
  /// SSL_R_UNEXPECTED_EOF_WHILE_READING) ends a mail session like any close, but it cannot prove that a
  /// body delimited by the close arrived whole: HTTP checks this.
  private(set) var sawCloseNotify = false

  init(_ socket: ConnectedSocket) {
    fd = socket.fd
    peer = socket.peer
  }

  deinit {
    if let ssl {
      // One non-blocking close_notify after a completed handshake, no wait for the server's.
      if SSL_is_init_finished(ssl) == 1 { SSL_shutdown(ssl) }
      SSL_free(ssl)
    }
    close(fd)
    // An HTTPS answer from a token endpoint passes through here with tokens in it.
    storage.initializeMemory(as: UInt8.self, repeating: 0)
    storage.deallocate()
  }

  /// Bytes received but not yet returned as lines.
  private var buffered: Int { end - start }

  /// Our end's address, for EHLO.
  var localAddress: SocketAddress? {
    var address = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let status = withUnsafeMutableBytes(of: &address) {
      getsockname(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), &length)
    }
    return status == 0 ? SocketAddress(storage: address, length: length) : nil
  }

  // MARK: Reading

  /// The next line without its CR LF (a bare LF is accepted too).
  func readLine(deadline: Deadline) throws(NetError) -> [UInt8] {
    while true {
      let from = start + scanned
      if from < end, let found = memchr(storage.baseAddress! + from, 10, end - from) {
        let newline = storage.baseAddress!.distance(to: found)
        var lineEnd = newline
        if lineEnd > start && storage[lineEnd - 1] == 13 { lineEnd -= 1 }
        let line = Array(storage[start..<lineEnd])
        // Handed out, the bytes are the caller's to wipe: none stays behind here (a token endpoint's or an
        // IMAP server's line may hold a secret).
        explicit_bzero(storage.baseAddress! + start, newline + 1 - start)
        start = newline + 1
        scanned = 0
        return line
      }
      scanned = buffered
      if buffered > Self.maxLineLength { throw .lineTooLong(Self.maxLineLength) }
      if storage.count - end < Self.chunkSize {
        // Move the partial line to the front; it is at most maxLineLength, so a chunk always fits after.
        if buffered > 0 { storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: buffered) }
        end = buffered
        start = 0
      }
      let target = UnsafeMutableRawBufferPointer(rebasing: storage[end...])
      end += ssl == nil ? try receivePlain(into: target, deadline: deadline) : try receiveTLS(into: target, deadline: deadline)
    }
  }

  /// Whatever bytes come next, after the lines already read (an HTTP body): the buffered rest, else one
  /// receive. Empty when the peer has closed the connection. The caller wipes what it gets.
  func readAvailable(deadline: Deadline) throws(NetError) -> [UInt8] {
    if buffered == 0 {
      start = 0
      end = 0
      scanned = 0
      let target = UnsafeMutableRawBufferPointer(rebasing: storage[0...])
      do {
        end = ssl == nil ? try receivePlain(into: target, deadline: deadline) : try receiveTLS(into: target, deadline: deadline)
      } catch .closed {
        return []
      }
    }
    let bytes = Array(storage[start..<end])
    explicit_bzero(storage.baseAddress! + start, end - start)
    start = end
    scanned = 0
    return bytes
  }

  private func receivePlain(into target: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(NetError) -> Int {
    while true {
      switch valueOrErrno({ recv(fd, target.baseAddress, target.count, 0) }) {
      case .success(0): throw .closed
      case .success(let count): return count
      case .failure(let error) where error.code == EAGAIN || error.code == EWOULDBLOCK:
        try deadline.wait(fd, for: Int16(POLLIN), "waiting for the server")
      case .failure(let error): throw .io(error.text)
      }
    }
  }

  private func receiveTLS(into target: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(NetError) -> Int {
    while true {
      ERR_clear_error()
      let count = SSL_read(ssl, target.baseAddress, Int32(target.count))
      if count > 0 { return Int(count) }
      try waitForTLS(count, deadline: deadline, "waiting for the server")
    }
  }

  // MARK: Writing

  func write(_ bytes: [UInt8], deadline: Deadline) throws(NetError) {
    try bytes.withUnsafeBytes { raw in Result { () throws(NetError) in try write(raw, deadline: deadline) } }.get()
  }

  /// Sends the secret's bytes straight from its buffer (no copy to wipe).
  func write(_ secret: SecretBytes, deadline: Deadline) throws(NetError) {
    try secret.withUnsafeBytes { raw in Result { () throws(NetError) in try write(raw, deadline: deadline) } }.get()
  }

  private func write(_ raw: UnsafeRawBufferPointer, deadline: Deadline) throws(NetError) {
    var offset = 0
    while offset < raw.count {
      let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
      if ssl != nil {
        ERR_clear_error()
        let count = SSL_write(ssl, rest.baseAddress, Int32(rest.count))
        if count > 0 {
          offset += Int(count)
        } else {
          try waitForTLS(count, deadline: deadline, "sending to the server")
        }
        continue
      }
      // MSG_NOSIGNAL: a peer that has gone away is an error, not a SIGPIPE.
      switch valueOrErrno({ send(fd, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL)) }) {
      case .success(let count): offset += count
      case .failure(let error) where error.code == EAGAIN || error.code == EWOULDBLOCK:
        try deadline.wait(fd, for: Int16(POLLOUT), "sending to the server")
      case .failure(let error) where error.code == EPIPE: throw .closed
      case .failure(let error): throw .io(error.text)
      }
    }
  }

  // MARK: TLS

  /// Starts TLS on this connection: the server's certificate must chain to a trusted CA and match `host`
  /// (SSL_set1_host for names; without it OpenSSL accepts any name), or the IP address for IP literals.
  /// `upgrading` is true for STARTTLS, false for implicit TLS (where a server that speaks first in clear is
  /// simply not a TLS server, and the handshake says so).
  func startTLS(context: TLSClientContext, host: String, upgrading: Bool, deadline: Deadline) throws(NetError) {
    if upgrading {
      // Anything the server sent after its go-ahead arrived in clear and would be read as if protected.
      var peek: UInt8 = 0
      let waiting = recv(fd, &peek, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
      if buffered > 0 || waiting > 0 { throw .plaintextInjection(max(buffered, 1)) }
    }

    ERR_clear_error()
    guard let ssl = SSL_new(context.context) else { throw openSSLError("SSL_new") }
    self.ssl = ssl
    guard SSL_set_fd(ssl, fd) == 1 else { throw openSSLError("SSL_set_fd") }
    if isIPLiteral(host) {
      // RFC 6066 3: no SNI for addresses.
      guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else {
        throw openSSLError("cannot verify against IP \(host)")
      }
    } else {
      SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
      guard SSL_set1_host(ssl, host) == 1, mailcred_SSL_set_tlsext_host_name(ssl, host) == 1 else {
        throw openSSLError("cannot set host name \(host)")
      }
    }
    while true {
      ERR_clear_error()
      let status = SSL_connect(ssl)
      if status == 1 { break }
      do {
        try waitForTLS(status, deadline: deadline, "during the TLS handshake")
      } catch {
        throw error.duringHandshake
      }
    }
    // Belt and braces: verification is on, but a session without a verified certificate must never pass.
    guard let certificate = SSL_get1_peer_certificate(ssl) else { throw .tls("the server sent no certificate") }
    X509_free(certificate)
    guard SSL_get_verify_result(ssl) == X509_V_OK else { throw openSSLError("certificate not verified", ssl: ssl) }
  }

  /// After an SSL_* call returned `status` ≤ 0: waits for the socket if OpenSSL asks to, or throws.
  private func waitForTLS(_ status: Int32, deadline: Deadline, _ what: String) throws(NetError) {
    let code = SSL_get_error(ssl, status)
    switch code {
    case SSL_ERROR_WANT_READ: try deadline.wait(fd, for: Int16(POLLIN), what)
    case SSL_ERROR_WANT_WRITE: try deadline.wait(fd, for: Int16(POLLOUT), what)
    case SSL_ERROR_ZERO_RETURN:
      sawCloseNotify = true
      throw .closed
    case SSL_ERROR_SYSCALL:
      let saved = errno
      if ERR_peek_error() != 0 {
        tlsFailureReason = ERR_GET_REASON(ERR_peek_last_error())
        throw openSSLError(what, ssl: ssl)
      }
      if saved == 0 || saved == EPIPE || saved == ECONNRESET { throw .closed }
      throw .io(Errno(saved).text)
    default:
      let last = ERR_peek_last_error()
      tlsFailureReason = ERR_GET_REASON(last)
      // OpenSSL 3 reports a close without close_notify as an SSL error: told by its library and reason
      // code, not by the words of its message.
      if ERR_GET_LIB(last) == ERR_LIB_SSL && tlsFailureReason == SSL_R_UNEXPECTED_EOF_WHILE_READING {
        ERR_clear_error()
        throw .closed
      }
      throw openSSLError(what, ssl: ssl)
    }
  }
}

extension NetError {
  /// Inside the handshake, a closed or reset connection is a TLS failure (e.g. a plain-text server on a
  /// TLS port), not a protocol one.
  var duringHandshake: NetError {
    switch self {
    case .closed: return .tls("the server closed the connection during the handshake")
    case .io(let why): return .tls("connection error during the handshake: \(why)")
    default: return self
    }
  }
}

func isIPLiteral(_ host: String) -> Bool {
  var v4 = in_addr()
  var v6 = in6_addr()
  return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
}

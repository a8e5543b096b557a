#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL
import MailcredSystem
import Synchronization
import Testing
@testable import MailcredNet

/// A loopback server on port 0 whose every connection runs `script` on a thread of its own. What clients
/// sent is kept in `received`, one entry per line, so tests can assert what never crossed the wire.
final class ScriptedServer: Sendable {
  let port: Int
  private let listener: Int32
  private let lines = Mutex<[String]>([])
  private let connections = Atomic<Int>(0)
  private let finishedScripts = Atomic<Int>(0)
  private let clear = Mutex<[UInt8]>([])

  init(host: String = "127.0.0.1", port fixedPort: Int = 0, _ script: @escaping @Sendable (ServerConnection) -> Void) throws {
    let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var on: Int32 = 1
    setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(fixedPort).bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(listenFD, 512) == 0 else { throw ServerError.setup("bind/listen: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
    }
    port = Int(UInt16(bigEndian: address.sin_port))
    listener = listenFD
    startDetachedThread { [weak self] in
      while true {
        let fd = accept(listenFD, nil, nil)
        if fd < 0 {
          if errno == EINTR { continue }
          return
        }
        // The TLS suite forks `openssl`: an inherited copy would keep a closed connection open.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        guard let self else {
          close(fd)
          return
        }
        connections.add(1, ordering: .relaxed)
        startDetachedThread {
          let connection = ServerConnection(fd: fd, server: self)
          script(connection)
          connection.close()
          self.finishedScripts.add(1, ordering: .releasing)
        }
      }
    }
  }

  deinit {
    stop()
    close(listener)
  }

  /// Stops accepting (connections already accepted finish their scripts).
  func stop() {
    shutdown(listener, Int32(SHUT_RDWR))
  }

  var received: [String] { lines.withLock { $0 } }

  /// What was received once every accepted connection's script has run to its end (the client hung up,
  /// the script finished): for asserting that something was NOT sent, which the lines seen so far cannot
  /// show while a server thread may still be reading. Gives up after 10 s and records an issue.
  /// Waits by suspending, never by blocking a thread: the checks under test resume on the same
  /// cooperative pool.
  var settled: [String] {
    get async {
      let started = monotonicSeconds()
      while finishedScripts.load(ordering: .acquiring) < connections.load(ordering: .relaxed) {
        if monotonicSeconds() - started > 10 {
          Issue.record("the scripted server's connections did not finish within 10 s")
          break
        }
        try? await Task.sleep(for: .milliseconds(2))
      }
      return received
    }
  }
  var connectionCount: Int { connections.load(ordering: .relaxed) }

  fileprivate func record(_ line: String) { lines.withLock { $0.append(line) } }

  /// Every byte any connection read before TLS (lines, and raw reads such as a ClientHello): what
  /// crossed the wire in clear, for asserting that no credential byte did.
  var clearText: [UInt8] { clear.withLock { $0 } }
  fileprivate func recordClear(_ bytes: ArraySlice<UInt8>) { clear.withLock { $0.append(contentsOf: bytes) } }
}

enum ServerError: Error { case setup(String) }

/// The server's side of one connection: blocking, with a receive timeout so that no test can hang.
final class ServerConnection {
  let fd: Int32
  private let server: ScriptedServer
  private var ssl: OpaquePointer?
  private var buffer: [UInt8] = []
  private var closed = false

  fileprivate init(fd: Int32, server: ScriptedServer) {
    self.fd = fd
    self.server = server
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    // Scripts write multi-line replies line by line: without this, Nagle and delayed ACKs add 40 ms each.
    var on: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
  }

  /// Sends text as is (the script writes its own CRLFs).
  func send(_ text: String) { send(Array(text.utf8)) }

  func send(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let count = bytes[offset...].withUnsafeBytes { raw -> Int in
        if let ssl { return Int(SSL_write(ssl, raw.baseAddress, Int32(raw.count))) }
        return Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
      }
      if count <= 0 { return }
      offset += count
    }
  }

  /// The next line from the client without CRLF, or nil at EOF / error / timeout.
  func readLine() -> String? {
    while true {
      if let newline = buffer.firstIndex(of: 10) {
        var line = Array(buffer[..<newline])
        buffer.removeSubrange(...newline)
        if line.last == 13 { line.removeLast() }
        let text = String(decoding: line, as: UTF8.self)
        server.record(text)
        return text
      }
      var chunk = [UInt8](repeating: 0, count: 4096)
      let count = chunk.withUnsafeMutableBytes { raw -> Int in
        if let ssl { return Int(SSL_read(ssl, raw.baseAddress, Int32(raw.count))) }
        return recv(fd, raw.baseAddress, raw.count, 0)
      }
      if count <= 0 { return nil }
      if ssl == nil { server.recordClear(chunk[..<count]) }
      buffer.append(contentsOf: chunk[..<count])
    }
  }

  /// Reads lines until the client closes, or `stop` says so.
  func drain(until stop: (String) -> Bool = { _ in false }) {
    while let line = readLine(), !stop(line) {}
  }

  /// Server side of a TLS handshake; false when the client gave up (e.g. failed verification).
  @discardableResult
  func acceptTLS(_ context: TLSServerContext) -> Bool {
    guard let ssl = SSL_new(context.context) else { return false }
    self.ssl = ssl
    SSL_set_fd(ssl, fd)
    return SSL_accept(ssl) == 1
  }

  /// EHLO → the given capability lines (last one without '-').
  func answerEHLO(_ capabilities: [String]) {
    guard readLine() != nil else { return }
    let lines = ["mx.test"] + capabilities
    for (index, line) in lines.enumerated() { send("250\(index == lines.count - 1 ? " " : "-")\(line)\r\n") }
  }

  /// One receive in clear (e.g. the client's TLS ClientHello, which is then left unanswered); its byte
  /// count, 0 at EOF or error.
  @discardableResult
  func readRaw() -> Int {
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count <= 0 { return 0 }
    server.recordClear(chunk[..<count])
    return count
  }

  /// Sends `text` one byte at a time, `interval` seconds apart (slow-loris); false once the client is gone.
  @discardableResult
  func dribble(_ text: String, every interval: Double) -> Bool { dribble(Array(text.utf8), every: interval) }

  @discardableResult
  func dribble(_ bytes: [UInt8], every interval: Double) -> Bool {
    for byte in bytes {
      let sent = withUnsafeBytes(of: byte) { raw -> Int in
        if let ssl { return Int(SSL_write(ssl, raw.baseAddress, 1)) }
        return Glibc.send(fd, raw.baseAddress, 1, Int32(MSG_NOSIGNAL))
      }
      if sent <= 0 { return false }
      usleep(UInt32(interval * 1_000_000))
    }
    return true
  }

  /// Closes the TCP connection normally (FIN) but without a TLS close_notify: what a cut connection or a
  /// truncating attacker looks like to the client.
  func closeWithoutCloseNotify() {
    guard !closed else { return }
    if let ssl {
      SSL_free(ssl)
      self.ssl = nil
    }
    Glibc.close(fd)
    closed = true
  }

  /// Aborts the connection with a TCP RST (SO_LINGER 0, then close), with no TLS close_notify.
  func reset() {
    guard !closed else { return }
    var abortive = linger(l_onoff: 1, l_linger: 0)
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, socklen_t(MemoryLayout<linger>.size))
    if let ssl {
      SSL_free(ssl)
      self.ssl = nil
    }
    Glibc.close(fd)
    closed = true
  }

  fileprivate func close() {
    guard !closed else { return }
    closed = true
    if let ssl {
      SSL_shutdown(ssl)
      SSL_free(ssl)
    }
    Glibc.close(fd)
  }
}

/// A server certificate and key loaded into an OpenSSL server context.
final class TLSServerContext: @unchecked Sendable {
  let context: OpaquePointer

  init(certificate: String, key: String) throws {
    guard let context = SSL_CTX_new(TLS_server_method()),
      SSL_CTX_use_certificate_chain_file(context, certificate) == 1,
      SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1
    else { throw ServerError.setup("server TLS context") }
    self.context = context
  }

  deinit { SSL_CTX_free(context) }
}

/// A throwaway CA and two server certificates made with the `openssl` CLI: `good` names localhost and
/// 127.0.0.1, `wrong` names only wrong.example.
struct TestPKI: Sendable {
  let directory: String
  var caFile: String { directory + "/ca.pem" }
  var good: TLSServerContext
  var wrong: TLSServerContext

  static let shared: Result<TestPKI, any Error> = Result { try TestPKI() }

  private init() throws {
    var template = Array("/tmp/mailcred-net-test-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw ServerError.setup("mkdtemp") }
    directory = String(cString: made)
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    let script = """
      set -e; cd '\(directory)'
      openssl req -x509 \(ec) -keyout ca.key -out ca.pem -days 2 -subj /CN=mailcred-test-ca
      for name in good wrong; do
        if [ $name = good ]; then san='DNS:localhost,IP:127.0.0.1'; else san='DNS:wrong.example'; fi
        printf 'subjectAltName=%s\\n' "$san" > $name.ext
        openssl req \(ec) -keyout $name.key -out $name.csr -subj /CN=$name
        openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $name.pem -days 2 -extfile $name.ext
      done
      """
    guard system("(\(script)) >/dev/null 2>&1") == 0 else { throw ServerError.setup("openssl CLI failed") }
    atexit {
      if case .success(let pki) = TestPKI.shared { _ = system("rm -rf '\(pki.directory)'") }
    }
    good = try TLSServerContext(certificate: directory + "/good.pem", key: directory + "/good.key")
    wrong = try TLSServerContext(certificate: directory + "/wrong.pem", key: directory + "/wrong.key")
  }
}

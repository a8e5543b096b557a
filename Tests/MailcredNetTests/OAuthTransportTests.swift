#if canImport(Glibc)
import Glibc
#endif
import MailcredCore
import MailcredSystem
import Synchronization
import Testing
@testable import MailcredNet

/// The HTTPS transport of OAuth2 (token endpoints) against scripted TLS servers, the loopback redirect
/// listener, and PKCE.
@Suite(.timeLimit(.minutes(1))) struct OAuthTransportTests {
  let pki: TestPKI

  init() throws { pki = try TestPKI.shared.get() }

  /// A token endpoint that reads the request head and answers with `answer` in the given pieces.
  func endpoint(_ pieces: [String], close: Bool = true, closeNotify: Bool = true) throws -> ScriptedServer {
    let context = pki.good
    return try ScriptedServer { c in
      guard c.acceptTLS(context) else { return }
      while let line = c.readLine(), !line.isEmpty {}
      for piece in pieces {
        c.send(piece)
        usleep(20_000)
      }
      if !close { usleep(2_000_000) }
      if !closeNotify { c.closeWithoutCloseNotify() }
    }
  }

  let form = SecretBytes(taking: Array("grant_type=refresh_token&refresh_token=rt-1&client_id=c".utf8))

  func post(_ server: ScriptedServer, caFile: String?, timeout: Double = 5) -> Result<HTTPAnswer, TransportFailure> {
    Result { () throws(TransportFailure) in
      try HTTPSTransport(timeout: timeout).post(HTTPSURL(host: "localhost", port: server.port, target: "/t/token?x=1"), form: form, caFile: caFile)
    }
  }

  @Test func contentLengthAnswerAndTheRequestHead() throws {
    let json = #"{"access_token":"a","expires_in":60}"#
    let server = try endpoint(["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n", json], close: false)
    let answer = try post(server, caFile: pki.caFile).get()
    #expect(answer.status == 200)
    #expect(String(decoding: answer.body.bytes, as: UTF8.self) == json)
    #expect(server.received.prefix(7) == [
      "POST /t/token?x=1 HTTP/1.1", "Host: localhost:\(server.port)", "User-Agent: mailcred", "Accept: application/json",
      "Content-Type: application/x-www-form-urlencoded", "Content-Length: \(form.count)", "Connection: close",
    ])
  }

  @Test func chunkedAnswerAfterA100Continue() throws {
    let server = try endpoint([
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n", "f\r\n{\"error\":\"inval\r\n",
      "a;ext=1\r\nid_grant\"}\r\n", "0\r\n\r\n",
    ], close: false)
    let answer = try post(server, caFile: pki.caFile).get()
    #expect(answer.status == 400)
    #expect(String(decoding: answer.body.bytes, as: UTF8.self) == #"{"error":"invalid_grant"}"#)
  }

  @Test func bodyUntilCloseWithoutLength() throws {
    let server = try endpoint(["HTTP/1.0 503 Service Unavailable\r\n\r\n", "try later"])
    let answer = try post(server, caFile: pki.caFile).get()
    #expect(answer.status == 503)
    #expect(String(decoding: answer.body.bytes, as: UTF8.self) == "try later")
  }

  /// The same answer cut off by a close without TLS close_notify: the body cannot be known whole, so it is
  /// no answer (OpenSSL's reason code says so, not its message text).
  @Test func aBodyUntilCloseWithoutCloseNotifyIsRefused() throws {
    let server = try endpoint(["HTTP/1.0 200 OK\r\n\r\n", #"{"access_token":"tr"#], closeNotify: false)
    let answer = post(server, caFile: pki.caFile)
    guard case .failure(let failure) = answer else {
      Issue.record("a truncated body was accepted: \(answer)")
      return
    }
    #expect("\(failure)".contains("close_notify"), "\(failure)")
  }

  /// With a Content-Length the length proves the body whole: a close without close_notify after it is fine.
  @Test func aCompleteContentLengthBodyNeedsNoCloseNotify() throws {
    let json = #"{"access_token":"a"}"#
    let server = try endpoint(["HTTP/1.1 200 OK\r\nContent-Length: \(json.utf8.count)\r\n\r\n", json], closeNotify: false)
    let answer = try post(server, caFile: pki.caFile).get()
    #expect(String(decoding: answer.body.bytes, as: UTF8.self) == json)
  }

  @Test func anUntrustedCertificateSendsNoForm() async throws {
    let server = try endpoint(["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"])
    guard case .failure(let failure) = post(server, caFile: nil) else {
      Issue.record("an unknown CA must fail")
      return
    }
    #expect(failure.verdict == .tlsFailed)
    #expect(await !server.settled.contains { $0.contains("refresh_token") || $0.hasPrefix("POST") })
  }

  @Test func aSilentEndpointTimesOut() throws {
    let server = try endpoint([], close: false)
    guard case .failure(let failure) = post(server, caFile: pki.caFile, timeout: 0.5) else {
      Issue.record("a silent endpoint must time out")
      return
    }
    #expect(failure.verdict == .timeout)
  }

  @Test func decodeChunkedWaitsForTheLastChunk() {
    #expect(decodeChunked(Array("3\r\nabc\r\n".utf8)) == nil)
    #expect(decodeChunked(Array("3\r\nabc\r\n0\r\n\r\n".utf8)) == Array("abc".utf8))
  }

  /// RFC 7636 appendix B.
  @Test func pkceChallengeOfTheRFCsVerifier() {
    let verifier = Array("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".utf8)
    #expect(verifier.withUnsafeBytes { base64URL(OAuthCrypto.sha256($0)) } == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    let (fresh, challenge) = OAuthCrypto.pkce()
    #expect(fresh.count == 43 && challenge.count == 43)
    #expect(OAuthCrypto.state() != OAuthCrypto.state())
  }

  /// Sends one HTTP request to the listener and returns the status line of the answer.
  func browserRequest(_ port: Int, _ target: String) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return "connect failed" }
    let request = Array("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var answer = [UInt8](repeating: 0, count: 4096)
    let n = recv(fd, &answer, answer.count, 0)
    return n > 0 ? String(decoding: answer[..<n].prefix { $0 != 13 }, as: UTF8.self) : "no answer"
  }

  @Test func theLoopbackListenerIgnoresEverythingButItsOwnState() throws {
    let listener = try LoopbackRedirectListener()
    #expect(listener.redirectURI == "http://127.0.0.1:\(listener.port)/")
    let port = listener.port
    let statuses = Mutex<[String]>([])
    startDetachedThread { [self] in
      // An idle speculative connection, a favicon, a forged redirect, then the real one.
      let idle = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = UInt16(port).bigEndian
      address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
      _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(idle, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      for target in ["/favicon.ico", "/?code=evil&state=guess", "/?code=c%2F1&state=s-1"] {
        let status = browserRequest(port, target)
        statuses.withLock { $0.append(status) }
      }
      close(idle)
    }
    let fields = try listener.waitForRedirect(state: "s-1", timeout: 10, page: "done <ok>")
    #expect(fields.first { $0.key == "code" }?.value == Array("c/1".utf8))
    let deadline = monotonicSeconds() + 5
    while statuses.withLock({ $0.count }) < 3 && monotonicSeconds() < deadline { usleep(10_000) }
    #expect(statuses.withLock { $0 } == ["HTTP/1.1 404 Not Found", "HTTP/1.1 400 Bad Request", "HTTP/1.1 200 OK"])
  }

  @Test func theListenerGivesUpAtItsDeadline() throws {
    let listener = try LoopbackRedirectListener()
    #expect(throws: NetError.self) { try listener.waitForRedirect(state: "s", timeout: 0.2, page: "") }
  }
}

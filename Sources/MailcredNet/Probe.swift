#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL
import MailcredCore
import MailcredSystem

// The diagnostic probes of a failed check (issue 18). Each opens a connection of its own, sends no command
// and no credential — at most a TLS ClientHello — and is bounded by the check's own deadline.

/// OpenSSL reasons meaning "the peer's first bytes were not a TLS record": a server that greets in clear
/// (SMTP `220 …`, IMAP `* OK …`), or an HTTP one.
let plaintextPeerReasons: Set<Int32> = [
  SSL_R_WRONG_VERSION_NUMBER, SSL_R_UNKNOWN_PROTOCOL, SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH,
  SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST,
]

/// How long a STARTTLS check waits for the greeting before asking, on a second connection, whether the port
/// speaks TLS instead. Mail servers greet within milliseconds; an implicit-TLS port never does (it waits for
/// our ClientHello while we wait for its greeting). A server that greets later still works: the first
/// connection keeps waiting for it.
let greetingPatience = 2.0
/// Bound of the TLS probe itself, so that a silent server leaves the check the rest of its deadline.
let tlsProbeLimit = 3.0
/// How long a probe waits for a greeting after its connection (or handshake) is up.
let probeGreetingLimit = 1.5

/// A client context for probes only: no certificate verification, because nothing secret follows and the
/// question is only "does this port speak TLS?". The real check verifies as always.
private final class ProbeTLSContext: @unchecked Sendable {
  let context: OpaquePointer?
  init() {
    context = mailcred_openssl_load() == nil ? SSL_CTX_new(TLS_client_method()) : nil
    if let context { SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil) }
  }
}

private let probeTLSContext = ProbeTLSContext()

/// Probes `port` in the way its standard security implies (465 and 993: a TLS handshake; else the greeting
/// in clear).
func probeAlternative(host: String, port: Int, proto: MailProtocol, deadline: Deadline) -> PortProbe {
  TransportSecurity.default(for: proto, port: port) == .tls
    ? probeTLS(host: host, port: port, proto: proto, deadline: deadline)
      ?? PortProbe(port: port, method: .tlsHandshake, answer: .failed, detail: "abandoned", seconds: 0)  // only with abandonWhenReadable
    : probeClearGreeting(host: host, port: port, proto: proto, deadline: deadline)
}

/// Connects and reads the first line in clear. Sends nothing.
func probeClearGreeting(host: String, port: Int, proto: MailProtocol, deadline: Deadline) -> PortProbe {
  probing(.clearGreeting, host: host, port: port, deadline: deadline) { fd, probe in
    switch readFirstLine(fd: fd, ssl: nil, deadline: deadline.capped(at: probeGreetingLimit)) {
    case .line(let line) where isGreeting(line, of: proto): return probe(.plaintext, "greeted in clear", greeting: line)
    case .line(let line):
      return probe(.otherService, "answered in clear, but not with \(proto == .smtp ? "an SMTP" : "an IMAP") greeting", greeting: line)
    case .nothing: return probe(.silent, "connected; no greeting within \(probeGreetingLimit) s")
    case .closed(let why): return probe(.failed, "connected; \(why)")
    }
  }!  // the clear probe never abandons
}

/// A probe's result, timed from when the probe began.
struct ProbeResult {
  let port: Int
  let method: PortProbe.Method
  let started: Double

  func callAsFunction(_ answer: PortProbe.Answer, _ detail: String, greeting: String? = nil) -> PortProbe {
    PortProbe(port: port, method: method, answer: answer, greeting: greeting, detail: detail, seconds: monotonicSeconds() - started)
  }
}

/// Connects for a probe and runs `body` on the socket (closed afterwards); a failed connect is the result.
/// `body` may give up (nil): `probeTLS` abandoned.
private func probing(
  _ method: PortProbe.Method, host: String, port: Int, deadline: Deadline, _ body: (Int32, ProbeResult) -> PortProbe?
) -> PortProbe? {
  let probe = ProbeResult(port: port, method: method, started: monotonicSeconds())
  switch connectForProbe(host: host, port: port, deadline: deadline) {
  case .failure(let failed): return probe(failed.answer, failed.detail)
  case .success(let fd):
    defer { close(fd) }
    return body(fd, probe)
  }
}

/// Connects, makes a TLS handshake without judging the certificate, and reads the greeting over TLS.
/// With `abandonWhenReadable`, gives up (nil) as soon as that socket has input: the check's own connection
/// got its greeting after all, and the question the probe asks no longer matters.
func probeTLS(host: String, port: Int, proto: MailProtocol, deadline: Deadline, abandonWhenReadable other: Int32? = nil) -> PortProbe? {
  probing(.tlsHandshake, host: host, port: port, deadline: deadline) { fd, probe in
    handshakeProbe(fd, probe, host: host, proto: proto, deadline: deadline, abandonWhenReadable: other)
  }
}

/// The TLS probe on a connected socket.
private func handshakeProbe(
  _ fd: Int32, _ probe: ProbeResult, host: String, proto: MailProtocol, deadline: Deadline, abandonWhenReadable other: Int32?
) -> PortProbe? {
  ERR_clear_error()
  guard let context = probeTLSContext.context, let ssl = SSL_new(context) else {
    ERR_clear_error()
    return probe(.failed, "cannot set up TLS")
  }
  defer { SSL_free(ssl) }
  SSL_set_fd(ssl, fd)
  if !isIPLiteral(host) { _ = mailcred_SSL_set_tlsext_host_name(ssl, host) }
  while true {
    ERR_clear_error()
    let status = SSL_connect(ssl)
    if status == 1 { break }
    let code = SSL_get_error(ssl, status)
    let events: Int16
    switch code {
    case SSL_ERROR_WANT_READ: events = Int16(POLLIN)
    case SSL_ERROR_WANT_WRITE: events = Int16(POLLOUT)
    default:
      let reason = ERR_GET_REASON(ERR_peek_last_error())
      ERR_clear_error()
      if plaintextPeerReasons.contains(reason) {
        return probe(.plaintext, "the handshake met a plain-text answer (\(reasonName(reason)))")
      }
      return probe(.failed, "the TLS handshake failed (SSL error \(code), reason \(reason))")
    }
    switch waitEither(fd, for: events, orInputOn: other, deadline: deadline) {
    case .ready: continue
    case .otherReady: return nil
    case .timeout: return probe(.silent, "connected; no TLS answer in time")
    }
  }
  let version = String(cString: SSL_get_version(ssl))
  defer { if SSL_is_init_finished(ssl) == 1 { SSL_shutdown(ssl) } }
  switch readFirstLine(fd: fd, ssl: ssl, deadline: deadline.capped(at: probeGreetingLimit)) {
  case .line(let line) where isGreeting(line, of: proto): return probe(.implicitTLS, "\(version) handshake, greeting over TLS", greeting: line)
  case .line(let line):
    return probe(.otherService, "\(version) handshake, but not \(proto == .smtp ? "an SMTP" : "an IMAP") greeting", greeting: line)
  // A completed handshake is the answer; a greeting that is slow to follow does not undo it.
  case .nothing: return probe(.implicitTLS, "\(version) handshake; no greeting within \(probeGreetingLimit) s")
  case .closed(let why): return probe(.implicitTLS, "\(version) handshake; then \(why)")
  }
}

private enum WaitOutcome { case ready, otherReady, timeout }

/// Waits for `fd` to be ready for `events`, or for input on `other`, until `deadline`.
private func waitEither(_ fd: Int32, for events: Int16, orInputOn other: Int32?, deadline: Deadline) -> WaitOutcome {
  guard let other else { return (try? deadline.wait(fd, for: events, "")) != nil ? .ready : .timeout }
  while true {
    let left = deadline.remaining
    guard left > 0 else { return .timeout }
    var requests = [pollfd(fd: fd, events: events, revents: 0), pollfd(fd: other, events: Int16(POLLIN), revents: 0)]
    guard let ready = try? pollDescriptors(&requests, timeoutMilliseconds: Int32(min(left * 1000 + 1, 60_000))) else { return .timeout }
    if ready == 0 { continue }
    if requests[1].revents != 0 { return .otherReady }
    return .ready
  }
}

extension LineConnection {
  /// Whether the server sends something (or closes) before `deadline`; reads nothing.
  func hasInput(within deadline: Deadline) -> Bool {
    (try? deadline.wait(fd, for: Int16(POLLIN), "")) != nil
  }
}

/// OpenSSL's words for the plain-text reasons, for messages only (decisions use the codes).
func reasonName(_ reason: Int32) -> String {
  switch reason {
  case SSL_R_WRONG_VERSION_NUMBER: return "wrong version number"
  case SSL_R_UNKNOWN_PROTOCOL: return "unknown protocol"
  case SSL_R_PACKET_LENGTH_TOO_LONG: return "packet length too long"
  case SSL_R_RECORD_LENGTH_MISMATCH: return "record length mismatch"
  case SSL_R_HTTP_REQUEST: return "http request"
  case SSL_R_HTTPS_PROXY_REQUEST: return "https proxy request"
  default: return "reason \(reason)"
  }
}

private struct ProbeConnectFailure: Error {
  var answer: PortProbe.Answer
  var detail: String
}

private func connectForProbe(host: String, port: Int, deadline: Deadline) -> Result<Int32, ProbeConnectFailure> {
  do {
    let socket = try connectTCP(host: host, port: port, deadline: deadline)
    return .success(socket.fd)
  } catch {
    switch error {
    case .timeout: return .failure(ProbeConnectFailure(answer: .timeout, detail: "no connection in time"))
    case .refused(let why): return .failure(ProbeConnectFailure(answer: .refused, detail: "connection refused (\(why))"))
    default: return .failure(ProbeConnectFailure(answer: .unreachable, detail: error.description))
    }
  }
}

private enum FirstLine {
  case line(String)
  case nothing
  case closed(String)
}

/// The first line the server sends (at most 512 bytes, control characters folded), in clear or over `ssl`.
private func readFirstLine(fd: Int32, ssl: OpaquePointer?, deadline: Deadline) -> FirstLine {
  var bytes: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 512)
  while bytes.count < 512 {
    let count: Int
    var events = Int16(POLLIN)
    if let ssl {
      ERR_clear_error()
      let n = SSL_read(ssl, &chunk, Int32(chunk.count))
      if n > 0 {
        count = Int(n)
      } else {
        let code = SSL_get_error(ssl, n)
        ERR_clear_error()
        if code == SSL_ERROR_WANT_WRITE {
          events = Int16(POLLOUT)
        } else if code != SSL_ERROR_WANT_READ {
          return bytes.isEmpty ? .closed("the server closed the connection") : .line(shown(bytes))
        }
        count = 0
      }
    } else {
      let received = chunk.withUnsafeMutableBytes { raw in
        Result { () throws(Errno) in try receive(fd, into: raw, flags: Int32(MSG_DONTWAIT)) }
      }
      switch received {
      case .success(0): return bytes.isEmpty ? .closed("the server closed the connection") : .line(shown(bytes))
      case .success(let n): count = n
      case .failure(let error) where error == .again || error == .wouldBlock: count = 0
      case .failure(let error): return .closed("connection error: \(error.text)")
      }
    }
    if count > 0 {
      bytes += chunk[..<count]
      if let newline = bytes.firstIndex(of: 10) { return .line(shown(Array(bytes[..<newline]))) }
      continue
    }
    do {
      try deadline.wait(fd, for: events, "")
    } catch {
      return bytes.isEmpty ? .nothing : .line(shown(bytes))
    }
  }
  return .line(shown(bytes))
}

private func shown(_ bytes: [UInt8]) -> String {
  var text = ""
  for scalar in String(decoding: bytes.prefix(200), as: UTF8.self).unicodeScalars where scalar != "\r" {
    text.unicodeScalars.append(scalar.value < 0x20 || scalar.value == 0x7f ? " " : scalar)
  }
  return text
}

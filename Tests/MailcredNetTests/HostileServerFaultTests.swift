#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL
import MailcredCore
import MailcredSystem
import Synchronization
import Testing
@testable import MailcredNet

// Issue 7, hostile servers: slow-loris, 10 MB without a newline, a TCP reset at every step of the
// exchange, STARTTLS stripping variants, and IMAP tag mismatches and BYE in the middle of AUTHENTICATE.
// Each server is a literal script; what it received in clear is asserted from its side.

/// base64("s3cret!"), SASL LOGIN's answer to the password prompt.
let loginSecret = "czNjcmV0IQ=="
/// base64("alice@example.org")
let loginUser = "YWxpY2VAZXhhbXBsZS5vcmc="

/// True when `bytes` contain the secret or one of its encodings.
func containsCredential(_ bytes: [UInt8]) -> Bool {
  [secretText, plainIR, loginSecret].contains { contains(bytes, Array($0.utf8)) }
}

func containsCredential(_ text: String) -> Bool { containsCredential(Array(text.utf8)) }

func contains(_ bytes: [UInt8], _ needle: [UInt8]) -> Bool {
  guard !needle.isEmpty, needle.count <= bytes.count else { return false }
  return (0...(bytes.count - needle.count)).contains { bytes[$0..<$0 + needle.count].elementsEqual(needle) }
}

/// What crossed the wire in clear holds no credential byte and no AUTH / AUTHENTICATE / LOGIN command.
func expectNothingSecretInClear(_ server: ScriptedServer, sourceLocation: SourceLocation = #_sourceLocation) async {
  _ = await server.settled
  let clear = server.clearText
  #expect(!containsCredential(clear), "credential bytes arrived in clear", sourceLocation: sourceLocation)
  let upper = Array(String(decoding: clear, as: UTF8.self).uppercased().utf8)
  for command in ["AUTH", "LOGIN"] {
    #expect(!contains(upper, Array(command.utf8)), "\(command) arrived in clear", sourceLocation: sourceLocation)
  }
}

func imap(_ port: Int, _ security: TransportSecurity, host: String = "localhost") -> Endpoint {
  Endpoint(proto: .imap, host: host, port: port, security: security)
}

// MARK: - Slow-loris

/// One byte per second: every read makes progress well within the timeout, so only a deadline for the
/// whole check (not per read) ends it.
@Suite(.timeLimit(.minutes(1))) struct HostileServerSlowLorisTests {
  let timeout = 2.5

  func expectOnTime(_ result: CheckResult, _ elapsed: Double, mentioning what: String,
                    sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.verdict == .timeout, "\(result.detail)", sourceLocation: sourceLocation)
    #expect(result.detail.contains(what), "\(result.detail)", sourceLocation: sourceLocation)
    #expect(elapsed >= timeout - 0.05 && elapsed < timeout + 1, "took \(elapsed) s", sourceLocation: sourceLocation)
    // `latency` runs from the deadline's start; `elapsed` adds loading the trust store and the thread hop.
    #expect(result.latency >= timeout && result.latency < timeout + 0.5, "latency \(result.latency) s", sourceLocation: sourceLocation)
    print("slow-loris (\(what)): timeout \(timeout) s, check latency \(result.latency) s, ended after \(elapsed) s")
  }

  @Test func greetingOneBytePerSecond() async throws {
    let server = try ScriptedServer { c in
      c.dribble("220 mx.test ESMTP slowly\r\n", every: 1)
    }
    let started = monotonicSeconds()
    let result = await check(smtp(server.port), timeout: timeout)
    expectOnTime(result, monotonicSeconds() - started, mentioning: "greeting")
    #expect(server.received.isEmpty)
  }

  @Test func ehloReplyOneBytePerSecond() async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      guard c.readLine() != nil else { return }
      c.dribble("250-mx.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n", every: 1)
    }
    let started = monotonicSeconds()
    let result = await check(smtp(server.port), timeout: timeout)
    expectOnTime(result, monotonicSeconds() - started, mentioning: "EHLO")
    await expectNothingSecretInClear(server)
  }

  @Test func imapCapabilityOneBytePerSecond() async throws {
    let server = try ScriptedServer { c in
      c.send("* OK ready\r\n")
      guard c.readLine() != nil else { return }
      c.dribble("* CAPABILITY IMAP4rev1 STARTTLS\r\nA1 OK done\r\n", every: 1)
    }
    let started = monotonicSeconds()
    let result = await check(imap(server.port, .starttls, host: "127.0.0.1"), timeout: timeout)
    expectOnTime(result, monotonicSeconds() - started, mentioning: "CAPABILITY")
    await expectNothingSecretInClear(server)
  }

  /// Over TLS each byte is a record of its own: the TLS read path honours the deadline too.
  @Test func greetingOverTLSOneBytePerSecond() async throws {
    let pki = try TestPKI.shared.get()
    let server = try ScriptedServer { c in
      guard c.acceptTLS(pki.good) else { return }
      c.dribble("220 mx.test ESMTP slowly\r\n", every: 1)
    }
    let started = monotonicSeconds()
    let result = await check(smtp(server.port, .tls, host: "localhost"), timeout: timeout, caFile: pki.caFile)
    expectOnTime(result, monotonicSeconds() - started, mentioning: "greeting")
  }

  /// A handshake answered with a record header and then one byte per second.
  @Test func tlsHandshakeOneBytePerSecond() async throws {
    let server = try ScriptedServer { c in
      guard c.readRaw() > 0 else { return }
      c.dribble([0x16, 0x03, 0x03, 0x00, 0x40] + [UInt8](repeating: 0x02, count: 64), every: 1)
    }
    let started = monotonicSeconds()
    let result = await check(smtp(server.port, .tls, host: "localhost"), timeout: timeout)
    expectOnTime(result, monotonicSeconds() - started, mentioning: "TLS handshake")
  }
}

// MARK: - 10 MB without a newline

/// Peak resident set size (VmHWM) of this process, in KiB.
func peakResidentKiB() -> Int? {
  let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var buffer = [UInt8](repeating: 0, count: 16 * 1024)
  let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
  guard count > 0 else { return nil }
  let text = String(decoding: buffer[..<count], as: UTF8.self)
  guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
  return Int(line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0); false where not permitted.
func resetPeakResident() -> Bool {
  let fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  return write(fd, "5", 1) == 1
}

private final class Writer: Sendable {
  let stop = Atomic<Bool>(false)
  let done = Atomic<Bool>(false)
  let written = Atomic<Int>(0)
}

@Suite(.timeLimit(.minutes(1))) struct HostileServerMemoryTests {
  static let tenMegabytes = 10 << 20

  /// The whole check against a server sending `220 ` and 10 MB without a newline, in clear and over TLS:
  /// a protocol error within a fraction of the timeout, and the process's peak RSS grows by far less
  /// than the 10 MB (it would grow by at least that if the line were buffered).
  @Test(arguments: [TransportSecurity.starttls, .tls])
  func tenMegabytesWithoutNewline(security: TransportSecurity) async throws {
    let pki = try TestPKI.shared.get()
    let server = try ScriptedServer { c in
      if security == .tls { guard c.acceptTLS(pki.good) else { return } }
      let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
      c.send("220 ")
      for _ in 0..<(Self.tenMegabytes / chunk.count) { c.send(chunk) }
      c.drain()
    }
    // A first round loads the trust store and warms the allocator, so that the measured ones show only
    // what reading the line costs. VmHWM is process-wide and other tests run alongside, so the smallest
    // growth of three rounds counts: buffering the line would add at least 10 MiB to every round.
    let endpoint = smtp(server.port, security, host: "localhost")
    _ = await check(endpoint, timeout: 3, caFile: pki.caFile)
    var growths: [Int] = []
    for _ in 0..<3 {
      let canReset = resetPeakResident()
      let before = peakResidentKiB()
      let started = monotonicSeconds()
      let result = await check(endpoint, timeout: 3, caFile: pki.caFile)
      let elapsed = monotonicSeconds() - started
      let after = peakResidentKiB()
      #expect(result.verdict == .protocolError, "\(result.detail)")
      #expect(result.detail.contains("longer than \(LineConnection.maxLineLength) bytes"))
      #expect(elapsed < 2)
      guard canReset, let before, let after else { break }
      growths.append(after - before)
      print("10 MB line (\(security)): peak RSS \(before) → \(after) KiB (+\(after - before) KiB), \(elapsed) s")
      if after - before < 4 * 1024 { break }
    }
    if let smallest = growths.min() {
      #expect(smallest < 4 * 1024, "peak RSS grew by \(growths) KiB")
    }
  }

  /// OpenSSL keeps decrypted input in its read buffer unless told to wipe it after handing it over.
  @Test func tlsContextCleansesReceivedPlaintext() throws {
    let context = try TLSClientContext.shared(caFile: nil)
    #expect(SSL_CTX_get_options(context.context) & mailcred_SSL_OP_CLEANSE_PLAINTEXT() != 0)
  }

  /// The reader itself: of 10 MB offered without a newline, LineConnection takes at most its one fixed
  /// buffer (64 KiB line limit + one 16 KiB chunk) off the socket before giving up. Measured exactly:
  /// bytes written minus bytes still queued (FIONREAD).
  @Test func lineLimitStopsReadingAtTheBuffer() throws {
    var fds: [Int32] = [0, 0]
    try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
    for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    let readEnd = fds[0]
    let writeEnd = fds[1]
    defer { close(writeEnd) }
    let writer = Writer()
    startDetachedThread {
      let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
      while !writer.stop.load(ordering: .acquiring) && writer.written.load(ordering: .relaxed) < Self.tenMegabytes {
        let sent = chunk.withUnsafeBytes { send(writeEnd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent > 0 {
          writer.written.add(sent, ordering: .relaxed)
        } else if errno == EAGAIN {
          var request = pollfd(fd: writeEnd, events: Int16(POLLOUT), revents: 0)
          _ = poll(&request, 1, 20)
        } else {
          break
        }
      }
      writer.done.store(true, ordering: .releasing)
    }

    let connection = LineConnection(ConnectedSocket(fd: readEnd, peer: SocketAddress(storage: sockaddr_storage(), length: 0)))
    do {
      let line = try connection.readLine(deadline: Deadline(secondsFromNow: 5))
      Issue.record("got a line of \(line.count) bytes")
    } catch {
      #expect(error == .lineTooLong(LineConnection.maxLineLength))
    }
    writer.stop.store(true, ordering: .releasing)
    for _ in 0..<200 where !writer.done.load(ordering: .acquiring) { usleep(10_000) }
    let finished = writer.done.load(ordering: .acquiring)
    try #require(finished)
    var queued: Int32 = 0
    try #require(ioctl(readEnd, UInt(FIONREAD), &queued) == 0)
    let consumed = writer.written.load(ordering: .relaxed) - Int(queued)
    print("line limit: offered \(writer.written.load(ordering: .relaxed)) bytes, read \(consumed)")
    #expect(consumed > LineConnection.maxLineLength)
    #expect(consumed <= LineConnection.maxLineLength + 16 * 1024)
  }
}

// MARK: - Connection reset at every step

/// Where the server aborts the connection with a TCP RST (SO_LINGER 0, close).
enum ResetPoint: String, Sendable, CustomTestStringConvertible {
  /// No reset: the script runs to a rejected AUTH (proves the script reaches every later point).
  case none
  case beforeGreeting
  /// Implicit TLS: handshake done, greeting not sent.
  case afterHandshake
  case afterGreeting
  /// EHLO / `A1 CAPABILITY` read, nothing answered.
  case afterCapabilityRequest
  /// Half of the multi-line EHLO reply / the untagged CAPABILITY without its tagged OK.
  case midCapabilityReply
  /// `220` / `A2 OK` to STARTTLS sent.
  case afterStarttlsGoAhead
  /// The client's ClientHello read, never answered.
  case duringHandshake
  /// STARTTLS: the EHLO / CAPABILITY inside TLS read, nothing answered.
  case afterCapabilityRequestInTLS
  /// AUTH PLAIN / AUTHENTICATE PLAIN with the credentials read, nothing answered.
  case afterAuth
  /// The first line of a multi-line AUTH reply / an untagged line before the tagged answer.
  case midAuthReply
  /// Half a line of the final answer, no CRLF.
  case midAuthReplyLine

  var testDescription: String { rawValue }

  /// The credentials were sent (over TLS) before this point.
  var credentialsSent: Bool { [.none, .afterAuth, .midAuthReply, .midAuthReplyLine].contains(self) }
}

@Suite(.timeLimit(.minutes(1))) struct HostileServerResetTests {
  let pki: TestPKI
  init() throws { pki = try TestPKI.shared.get() }

  /// SMTP on a STARTTLS port (`implicitTLS` false) or an implicit-TLS port, reset at `point`.
  static func smtpScript(_ point: ResetPoint, implicitTLS: Bool, _ pki: TestPKI) -> @Sendable (ServerConnection) -> Void {
    { c in
      func cut(_ here: ResetPoint) -> Bool {
        guard here == point else { return false }
        c.reset()
        return true
      }
      if cut(.beforeGreeting) { return }
      if implicitTLS {
        if point == .duringHandshake {
          c.readRaw()
          c.reset()
          return
        }
        guard c.acceptTLS(pki.good) else { return }
        if cut(.afterHandshake) { return }
      }
      c.send("220 mx.test ESMTP\r\n")
      if cut(.afterGreeting) { return }
      guard c.readLine() != nil else { return }
      if cut(.afterCapabilityRequest) { return }
      c.send("250-mx.test\r\n250-PIPELINING\r\n")
      if cut(.midCapabilityReply) { return }
      if implicitTLS {
        c.send("250 AUTH PLAIN LOGIN\r\n")
      } else {
        c.send("250 STARTTLS\r\n")
        guard c.readLine() == "STARTTLS" else { return }
        c.send("220 2.0.0 Ready to start TLS\r\n")
        if cut(.afterStarttlsGoAhead) { return }
        if point == .duringHandshake {
          c.readRaw()
          c.reset()
          return
        }
        guard c.acceptTLS(pki.good), c.readLine() != nil else { return }
        if cut(.afterCapabilityRequestInTLS) { return }
        c.send("250-mx.test\r\n250 AUTH PLAIN LOGIN\r\n")
      }
      guard c.readLine() != nil else { return }
      if cut(.afterAuth) { return }
      c.send("535-5.7.8 Username and Password not accepted.\r\n")
      if cut(.midAuthReply) { return }
      c.send("535 5.7.8 Learn more at")
      if cut(.midAuthReplyLine) { return }
      c.send(" https://example.org/\r\n")
      c.drain(until: { $0 == "QUIT" })
      c.send("221 2.0.0 Bye\r\n")
    }
  }

  /// IMAP on a STARTTLS port, reset at `point`.
  static func imapScript(_ point: ResetPoint, _ pki: TestPKI) -> @Sendable (ServerConnection) -> Void {
    { c in
      func cut(_ here: ResetPoint) -> Bool {
        guard here == point else { return false }
        c.reset()
        return true
      }
      if cut(.beforeGreeting) { return }
      c.send("* OK IMAP4rev1 ready\r\n")
      if cut(.afterGreeting) { return }
      guard c.readLine() == "A1 CAPABILITY" else { return }
      if cut(.afterCapabilityRequest) { return }
      c.send("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n")
      if cut(.midCapabilityReply) { return }
      c.send("A1 OK done\r\n")
      guard c.readLine() == "A2 STARTTLS" else { return }
      c.send("A2 OK Begin TLS negotiation now\r\n")
      if cut(.afterStarttlsGoAhead) { return }
      if point == .duringHandshake {
        c.readRaw()
        c.reset()
        return
      }
      guard c.acceptTLS(pki.good), c.readLine() == "A3 CAPABILITY" else { return }
      if cut(.afterCapabilityRequestInTLS) { return }
      c.send("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nA3 OK done\r\n")
      guard c.readLine() != nil else { return }
      if cut(.afterAuth) { return }
      c.send("* OK [ALERT] checking\r\n")
      if cut(.midAuthReply) { return }
      c.send("A4 NO [AUTHENTICATIONFAILED] Invalid")
      if cut(.midAuthReplyLine) { return }
      c.send(" credentials\r\n")
      c.drain(until: { $0.hasSuffix("LOGOUT") })
      c.send("* BYE\r\nA5 OK Logout completed\r\n")
    }
  }

  /// Classified (never ok), quickly (nowhere near the timeout), without the secret in the detail, and no
  /// credential byte reached the server in clear; the credentials reached it over TLS only when the
  /// exchange got that far.
  func expectClassified(_ result: CheckResult, _ elapsed: Double, _ server: ScriptedServer, at point: ResetPoint,
                        expected: Set<CheckClass>, authPrefix: String,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(expected.contains(result.verdict), "\(point): \(result.verdict) \(result.detail)", sourceLocation: sourceLocation)
    #expect(!result.detail.isEmpty, sourceLocation: sourceLocation)
    #expect(!containsCredential(result.detail), "\(result.detail)", sourceLocation: sourceLocation)
    #expect(elapsed < 2, "\(point) took \(elapsed) s", sourceLocation: sourceLocation)
    // Joined, not slept on: every connection's script has run to its end, so what it read is all there is.
    let received = await server.settled
    await expectNothingSecretInClear(server, sourceLocation: sourceLocation)
    let sentAuth = received.contains { $0.hasPrefix(authPrefix) && $0.hasSuffix(plainIR) }
    #expect(sentAuth == point.credentialsSent, "\(point): \(server.received)", sourceLocation: sourceLocation)
    print("reset \(authPrefix.split(separator: " ").first!) \(point): \(result.verdict) — \(result.detail) (\(elapsed) s)")
  }

  static func verdict(at point: ResetPoint) -> Set<CheckClass> {
    switch point {
    case .none: return [.rejected]
    // The handshake did not complete: nothing was authenticated by TLS yet.
    case .duringHandshake: return [.tlsFailed]
    // Whether the client read the go-ahead before the RST arrived is a race: either the plain-text read
    // or the handshake fails.
    case .afterStarttlsGoAhead: return [.protocolError, .tlsFailed]
    default: return [.protocolError]
    }
  }

  @Test(arguments: [
    ResetPoint.none, .beforeGreeting, .afterGreeting, .afterCapabilityRequest, .midCapabilityReply,
    .afterStarttlsGoAhead, .duringHandshake, .afterCapabilityRequestInTLS, .afterAuth, .midAuthReply, .midAuthReplyLine,
  ])
  func smtpStarttls(resetAt point: ResetPoint) async throws {
    let server = try ScriptedServer(Self.smtpScript(point, implicitTLS: false, pki))
    let started = monotonicSeconds()
    let result = await check(smtp(server.port, .starttls, host: "localhost"), timeout: 3, caFile: pki.caFile)
    try await expectClassified(result, monotonicSeconds() - started, server, at: point,
      expected: Self.verdict(at: point), authPrefix: "AUTH PLAIN ")
  }

  @Test(arguments: [
    ResetPoint.none, .beforeGreeting, .duringHandshake, .afterHandshake, .afterGreeting, .afterCapabilityRequest,
    .midCapabilityReply, .afterAuth, .midAuthReply, .midAuthReplyLine,
  ])
  func smtpImplicitTLS(resetAt point: ResetPoint) async throws {
    let server = try ScriptedServer(Self.smtpScript(point, implicitTLS: true, pki))
    let started = monotonicSeconds()
    let result = await check(smtp(server.port, .tls, host: "localhost"), timeout: 3, caFile: pki.caFile)
    // On an implicit-TLS port a reset before the handshake completes is a TLS failure.
    let expected: Set<CheckClass> = point == .beforeGreeting ? [.tlsFailed] : Self.verdict(at: point)
    try await expectClassified(result, monotonicSeconds() - started, server, at: point,
      expected: expected, authPrefix: "AUTH PLAIN ")
  }

  @Test(arguments: [
    ResetPoint.none, .beforeGreeting, .afterGreeting, .afterCapabilityRequest, .midCapabilityReply,
    .afterStarttlsGoAhead, .duringHandshake, .afterCapabilityRequestInTLS, .afterAuth, .midAuthReply, .midAuthReplyLine,
  ])
  func imapStarttls(resetAt point: ResetPoint) async throws {
    let server = try ScriptedServer(Self.imapScript(point, pki))
    let started = monotonicSeconds()
    let result = await check(imap(server.port, .starttls), timeout: 3, caFile: pki.caFile)
    try await expectClassified(result, monotonicSeconds() - started, server, at: point,
      expected: Self.verdict(at: point), authPrefix: "A4 AUTHENTICATE PLAIN ")
  }
}

// MARK: - STARTTLS stripping variants

@Suite(.timeLimit(.minutes(1))) struct HostileServerStrippingTests {
  let pki: TestPKI
  init() throws { pki = try TestPKI.shared.get() }

  /// The server says 220 to STARTTLS, lets the ClientHello arrive, and carries on in plain text as if TLS
  /// were up (offering AUTH). The handshake fails; nothing more is sent.
  @Test func smtpGoAheadThenPlainText() async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS"])
      guard c.readLine() == "STARTTLS" else { return }
      c.send("220 2.0.0 Ready to start TLS\r\n")
      guard c.readRaw() > 0 else { return }
      c.send("250-mx.test\r\n250 AUTH PLAIN LOGIN\r\n")
      c.drain()
    }
    let result = await check(smtp(server.port, .starttls, host: "localhost"), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .tlsFailed, "\(result.detail)")
    await expectNothingSecretInClear(server)
    #expect(await server.settled.filter { !$0.hasPrefix("EHLO") } == ["STARTTLS"])
  }

  @Test func imapGoAheadThenPlainText() async throws {
    let server = try ScriptedServer { c in
      c.send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] ready\r\n")
      guard c.readLine() == "A1 STARTTLS" else { return }
      c.send("A1 OK Begin TLS negotiation now\r\n")
      guard c.readRaw() > 0 else { return }
      c.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nA2 OK done\r\n")
      c.drain()
    }
    let result = await check(imap(server.port, .starttls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .tlsFailed, "\(result.detail)")
    await expectNothingSecretInClear(server)
    #expect(await server.settled == ["A1 STARTTLS"])
  }

  /// STARTTLS answered with something other than 220: no TLS, so no AUTH.
  @Test(arguments: [
    ("250 2.0.0 OK\r\n", CheckClass.starttlsMissing), ("502 5.5.1 Unrecognized command\r\n", .starttlsMissing),
    ("220-2.0.0 go\r\n250 ahead\r\n", .protocolError),
  ])
  func smtpStarttlsNotAgreed(answer: String, expected: CheckClass) async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS", "AUTH PLAIN LOGIN"])
      guard c.readLine() == "STARTTLS" else { return }
      c.send(answer)
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
    let result = await check(smtp(server.port, .starttls, host: "localhost"), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == expected, "\(result.detail)")
    await expectNothingSecretInClear(server)
  }

  /// The capability list changes across TLS: PLAIN before, only LOGIN (and STARTTLS again) after. The
  /// client uses what it learnt inside TLS, and does not STARTTLS twice.
  @Test func smtpCapabilitiesFromBeforeTLSAreDiscarded() async throws {
    let pki = self.pki
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS", "AUTH PLAIN"])
      guard c.readLine() == "STARTTLS" else { return }
      c.send("220 2.0.0 Ready to start TLS\r\n")
      guard c.acceptTLS(pki.good) else { return }
      c.answerEHLO(["STARTTLS", "AUTH LOGIN"])
      guard c.readLine() == "AUTH LOGIN" else { return }
      c.send("334 VXNlcm5hbWU6\r\n")
      _ = c.readLine()
      c.send("334 UGFzc3dvcmQ6\r\n")
      _ = c.readLine()
      c.send("235 2.7.0 Authentication successful\r\n")
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
    let result = await check(smtp(server.port, .starttls, host: "localhost"), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .ok, "\(result.detail)")
    #expect(server.received == ["EHLO [127.0.0.1]", "STARTTLS", "EHLO [127.0.0.1]", "AUTH LOGIN", loginUser, loginSecret, "QUIT"])
    await expectNothingSecretInClear(server)
  }

  /// AUTH offered only before TLS: after TLS there is none, so no credential is sent at all.
  @Test func smtpAuthOfferedOnlyBeforeTLS() async throws {
    let pki = self.pki
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS", "AUTH PLAIN LOGIN"])
      guard c.readLine() == "STARTTLS" else { return }
      c.send("220 2.0.0 Ready to start TLS\r\n")
      guard c.acceptTLS(pki.good) else { return }
      c.answerEHLO(["SIZE 1000", "8BITMIME"])
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
    let result = await check(smtp(server.port, .starttls, host: "localhost"), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .noAuthOffered, "\(result.detail)")
    #expect(server.received == ["EHLO [127.0.0.1]", "STARTTLS", "EHLO [127.0.0.1]", "QUIT"])
  }

  /// STARTTLS advertised in the first EHLO after implicit TLS: already protected, so AUTH goes ahead
  /// and no STARTTLS is attempted inside TLS.
  @Test func smtpStarttlsAdvertisedInsideImplicitTLS() async throws {
    let pki = self.pki
    let server = try ScriptedServer { c in
      guard c.acceptTLS(pki.good) else { return }
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS", "AUTH PLAIN"])
      _ = c.readLine()
      c.send("235 2.7.0 Authentication successful\r\n")
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
    let result = await check(smtp(server.port, .tls, host: "localhost"), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .ok, "\(result.detail)")
    #expect(server.received == ["EHLO [127.0.0.1]", "AUTH PLAIN \(plainIR)", "QUIT"])
    #expect(server.clearText.isEmpty)
  }

  /// IMAP: the greeting offers AUTH=PLAIN SASL-IR, the CAPABILITY inside TLS only STARTTLS and
  /// LOGINDISABLED: nothing to authenticate with, and no second STARTTLS.
  @Test func imapCapabilitiesFromBeforeTLSAreDiscarded() async throws {
    let pki = self.pki
    let server = try ScriptedServer { c in
      c.send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR] ready\r\n")
      guard c.readLine() == "A1 STARTTLS" else { return }
      c.send("A1 OK Begin TLS negotiation now\r\n")
      guard c.acceptTLS(pki.good), c.readLine() == "A2 CAPABILITY" else { return }
      c.send("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\nA2 OK done\r\n")
      c.drain(until: { $0.hasSuffix("LOGOUT") })
      c.send("* BYE\r\nA3 OK Logout completed\r\n")
    }
    let result = await check(imap(server.port, .starttls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .noAuthOffered, "\(result.detail)")
    #expect(server.received == ["A1 STARTTLS", "A2 CAPABILITY", "A3 LOGOUT"])
  }
}

// MARK: - IMAP: tag mismatch, BYE in the middle of AUTHENTICATE

@Suite(.timeLimit(.minutes(1))) struct HostileServerIMAPTests {
  let pki: TestPKI
  init() throws { pki = try TestPKI.shared.get() }

  /// Implicit TLS, AUTHENTICATE PLAIN with SASL-IR as `A1`, then `answer` and a close.
  func serverAnswering(_ answer: String, saslIR: Bool = true) throws -> ScriptedServer {
    let pki = self.pki
    return try ScriptedServer { c in
      guard c.acceptTLS(pki.good) else { return }
      c.send("* OK [CAPABILITY IMAP4rev1 \(saslIR ? "SASL-IR " : "")AUTH=PLAIN] ready\r\n")
      guard c.readLine() != nil else { return }
      c.send(answer)
    }
  }

  /// A tagged answer that is not for our AUTHENTICATE (another, an old, or a differently-cased tag) or no
  /// tagged answer at all is a protocol error — never success, never a rejection.
  @Test(arguments: [
    "A2 OK Logged in\r\n", "A0 OK Logged in\r\n", "a1 OK Logged in\r\n", "A1A OK Logged in\r\n",
    "A7 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n", "* OK Logged in\r\n",
  ])
  func tagMismatchAfterAuthenticate(answer: String) async throws {
    let server = try serverAnswering(answer)
    let result = await check(imap(server.port, .tls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .protocolError, "\(result.detail)")
    #expect(!containsCredential(result.detail))
    #expect(server.received == ["A1 AUTHENTICATE PLAIN \(plainIR)"])
  }

  @Test func matchingTagIsOK() async throws {
    let server = try serverAnswering("A1 OK Logged in\r\n")
    let result = await check(imap(server.port, .tls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .ok, "\(result.detail)")
  }

  /// BYE after the credentials, quoting them back: temporary, with the server's words but not the secret.
  @Test func byeAfterCredentials() async throws {
    let server = try serverAnswering("* BYE [ALERT] Unexpected A1 AUTHENTICATE PLAIN \(plainIR), closing\r\n")
    let result = await check(imap(server.port, .tls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .temporary, "\(result.detail)")
    #expect(result.detail.contains("BYE"))
    #expect(result.detail.contains("[redacted]"))
    #expect(!containsCredential(result.detail), "\(result.detail)")
  }

  /// BYE instead of the `+` continuation: the credentials are never sent.
  @Test func byeInsteadOfContinuation() async throws {
    let server = try serverAnswering("* BYE Server shutting down\r\n", saslIR: false)
    let result = await check(imap(server.port, .tls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .temporary, "\(result.detail)")
    #expect(result.detail.contains("shutting down"))
    #expect(await server.settled == ["A1 AUTHENTICATE PLAIN"])
  }

  /// BYE, then a tagged answer anyway: the tagged answer decides.
  @Test func byeThenTaggedNo() async throws {
    let server = try serverAnswering("* BYE going away\r\nA1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
    let result = await check(imap(server.port, .tls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .rejected, "\(result.detail)")
  }

  /// BYE, then a reset instead of an orderly close.
  @Test func byeThenReset() async throws {
    let pki = self.pki
    let server = try ScriptedServer { c in
      guard c.acceptTLS(pki.good) else { return }
      c.send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n")
      guard c.readLine() != nil else { return }
      c.send("* BYE Too many connections\r\n")
      usleep(50_000)
      c.reset()
    }
    let result = await check(imap(server.port, .tls), timeout: 3, caFile: pki.caFile)
    #expect(result.verdict == .temporary, "\(result.detail)")
    #expect(!containsCredential(result.detail))
  }
}

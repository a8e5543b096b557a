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

// One test at a time, and scripts/test runs this suite in a phase of its own: peak RSS is process-wide.
@Suite(.serialized, .timeLimit(.minutes(1))) struct HostileServerMemoryTests {
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
    // what reading the line costs. VmHWM is process-wide; with this suite alone in its process (see
    // scripts/test) a round grows by 4 KiB to 1.2 MiB, and the smallest growth of three rounds counts
    // against a stray allocation elsewhere: buffering the line would add at least 10 MiB to every round.
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
  /// Checked on the memory itself: a line received over TLS through LineConnection, the test's own copy
  /// wiped, is found nowhere in this process's writable memory. (That the search finds a copy where one is
  /// is shown first, on a buffer planted for the purpose. A context without SSL_OP_CLEANSE_PLAINTEXT makes
  /// no reliable control: whether its buffer still holds the record depends on what it read next.)
  @Test func receivedPlaintextLeavesNoCopyInMemory() throws {
    let mask: UInt8 = 0x5A
    let planted = (0..<48).map { _ in (UInt8(ascii: "a") + UInt8.random(in: 0..<26)) ^ mask }
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: planted.count, alignment: 1)
    for index in planted.indices { copy[index] = planted[index] ^ mask }
    #expect(countInWritableMemory(masked: planted, mask: mask) >= 1, "the memory search does not find a planted copy")
    explicit_bzero(copy.baseAddress!, copy.count)
    copy.deallocate()
    for _ in 0..<3 {
      #expect(try occurrencesAfterReceiving() == 0, "received plaintext left in memory")
    }
  }

  /// Receives one line holding a fresh random marker through LineConnection over TLS (mailcred's context),
  /// wipes the test's copy (LineConnection zeroes what it hands out), and counts the marker's occurrences
  /// in this process's writable memory while the connection is still open (OpenSSL's read buffer still
  /// allocated). The marker exists in clear only inside the exchange: the test keeps it masked, and the
  /// server builds the line in one buffer that it wipes.
  private func occurrencesAfterReceiving() throws -> Int {
    let pki = try TestPKI.shared.get()
    let mask: UInt8 = 0x5A
    let masked = (0..<48).map { _ in (UInt8(ascii: "a") + UInt8.random(in: 0..<26)) ^ mask }
    let server = try ScriptedServer { c in
      guard c.acceptTLS(pki.good) else { return }
      var line = [UInt8](repeating: 0, count: masked.count + 2)
      for index in masked.indices { line[index] = masked[index] ^ mask }
      line[masked.count] = 13
      line[masked.count + 1] = 10
      c.send(line)
      explicit_bzero(&line, line.count)
      _ = c.readLine()
    }
    defer { server.stop() }
    let context = try TLSClientContext(caFile: pki.caFile)
    let deadline = Deadline(secondsFromNow: 5)
    let connection = LineConnection(try connectTCP(host: "127.0.0.1", port: server.port, deadline: deadline))
    try connection.startTLS(context: context, host: "localhost", upgrading: false, deadline: deadline)
    var line = try connection.readLine(deadline: deadline)
    #expect(line.count == masked.count && zip(line, masked).allSatisfy { $0 ^ mask == $1 }, "the line arrived")
    explicit_bzero(&line, line.count)
    let found = countInWritableMemory(masked: masked, mask: mask)
    withExtendedLifetime(connection) {}
    return found
  }
}

/// How often the bytes `masked[i] ^ mask` stand in this process's writable memory (/proc/self/maps and
/// /proc/self/mem), compared without ever unmasking the needle into a buffer of its own.
func countInWritableMemory(masked: [UInt8], mask: UInt8) -> Int {
  // Read to the end with read(2): procfs files report size 0, and a reader that trusts the size (or reads
  // one buffer) sees only the first mappings of a process with many threads.
  let mapsFD = open("/proc/self/maps", O_RDONLY)
  guard mapsFD >= 0 else { return -1 }
  var mapsBytes: [UInt8] = []
  var piece = [UInt8](repeating: 0, count: 65536)
  while true {
    let n = piece.withUnsafeMutableBytes { read(mapsFD, $0.baseAddress, $0.count) }
    if n <= 0 { break }
    mapsBytes += piece[0..<n]
  }
  close(mapsFD)
  let maps = String(decoding: mapsBytes, as: UTF8.self)
  let mem = open("/proc/self/mem", O_RDONLY)
  guard mem >= 0 else { return -1 }
  defer { close(mem) }
  var found = 0
  var chunk = [UInt8](repeating: 0, count: 1 << 20)
  for line in maps.split(separator: "\n") {
    let fields = line.split(separator: " ", omittingEmptySubsequences: true)
    guard fields.count >= 2, fields[1].hasPrefix("rw"), !line.contains("[vvar"), !line.contains("[vsyscall") else { continue }
    let bounds = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
    guard bounds.count == 2 else { continue }
    var offset = bounds[0]
    while offset < bounds[1] {
      let want = Int(min(UInt64(chunk.count), bounds[1] - offset))
      let got = chunk.withUnsafeMutableBytes { pread(mem, $0.baseAddress, want, off_t(Int64(bitPattern: offset))) }
      if got < masked.count { break }
      found += chunk.withUnsafeBytes { raw -> Int in
        var count = 0
        var from = 0
        let last = got - masked.count
        while from <= last, let hit = memchr(raw.baseAddress! + from, Int32(masked[0] ^ mask), last - from + 1) {
          let index = raw.baseAddress!.distance(to: hit)
          var all = true
          for k in 1..<masked.count where raw[index + k] != masked[k] ^ mask {
            all = false
            break
          }
          if all { count += 1 }
          from = index + 1
        }
        return count
      }
      // Overlap by one marker length so that a marker across two reads is seen.
      offset += UInt64(max(got - masked.count, 1))
    }
  }
  explicit_bzero(&chunk, chunk.count)
  return found
}

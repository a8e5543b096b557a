import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Small loopback servers started by a test, for what Dovecot cannot play: a server that greets late, one that
// never greets, one that counts every accepted connection, and a proxy that holds a connection before passing
// it on to Dovecot (so a test can act while a live check is in flight). Adapted from MailcredNetTests'
// ScriptedServer, without TLS: every byte they see is plain text on 127.0.0.1.

/// A TCP listener on 127.0.0.1, port 0; each accepted connection runs `script` on a thread of its own.
final class LoopbackServer: Sendable {
  let port: Int
  private let listener: Int32
  private let accepted = Atomic<Int>(0)

  init(_ script: @escaping @Sendable (LoopbackConnection) -> Void) throws {
    (listener, port) = try listenOnLoopback()
    let listenFD = listener
    let counter = UnsafeSendable(self)
    Thread.detachNewThread {
      while true {
        let fd = accept(listenFD, nil, nil)
        if fd < 0 {
          if errno == EINTR || errno == ECONNABORTED { continue }
          return  // shut down
        }
        counter.value.accepted.add(1, ordering: .relaxed)
        Thread.detachNewThread {
          let connection = LoopbackConnection(fd: fd)
          script(connection)
          connection.close()
        }
      }
    }
  }

  /// Connections accepted so far.
  var acceptCount: Int { accepted.load(ordering: .relaxed) }

  /// Stops accepting; connections already accepted finish their scripts.
  func stop() {
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
  }
}

/// The server's side of one connection: blocking, with a 10 s receive timeout so that no test can hang.
final class LoopbackConnection: @unchecked Sendable {
  let fd: Int32
  private var buffer: [UInt8] = []

  init(fd: Int32) {
    self.fd = fd
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var on: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
  }

  func send(_ text: String) { _ = sendAll(fd, Array(text.utf8)) }

  /// The next line without CRLF, or nil at EOF, error or timeout.
  func readLine() -> String? {
    while true {
      if let newline = buffer.firstIndex(of: 10) {
        var line = Array(buffer[..<newline])
        buffer.removeSubrange(...newline)
        if line.last == 13 { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
      }
      var chunk = [UInt8](repeating: 0, count: 4096)
      let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if count <= 0 { return nil }
      buffer.append(contentsOf: chunk[..<count])
    }
  }

  /// Reads until the client closes (or 10 s of silence).
  func drain(until stop: (String) -> Bool = { _ in false }) {
    while let line = readLine(), !stop(line) {}
  }

  fileprivate func close() { Glibc.close(fd) }
}

/// Scripts for LoopbackServer.
enum SMTPScript {
  /// Greets after `delay` seconds, offers AUTH PLAIN over plain text, and rejects every credential with the
  /// answer Dovecot gives (`535 5.7.8`). Needs `--smtp-security plain` and `--allow-plaintext`.
  static func slowRejecting(delay: Double) -> @Sendable (LoopbackConnection) -> Void {
    { c in
      usleep(UInt32(delay * 1_000_000))
      c.send("220 slow.test ESMTP\r\n")
      guard c.readLine() != nil else { return }  // EHLO
      c.send("250-slow.test\r\n250 AUTH PLAIN LOGIN\r\n")
      guard c.readLine() != nil else { return }  // AUTH PLAIN ...
      c.send("535 5.7.8 Authentication failed.\r\n")
      c.drain(until: { $0.uppercased() == "QUIT" })
      c.send("221 2.0.0 Bye\r\n")
    }
  }

  /// Accepts the TCP connection and never says a word (the client's deadline must end it).
  static let silent: @Sendable (LoopbackConnection) -> Void = { c in c.drain() }

  /// Answers AUTH with 235 while `verdict.accepting` holds, else 535 (plain text, as `slowRejecting`).
  static func switchable(_ verdict: Switch) -> @Sendable (LoopbackConnection) -> Void {
    { c in
      c.send("220 switch.test ESMTP\r\n")
      guard c.readLine() != nil else { return }
      c.send("250-switch.test\r\n250 AUTH PLAIN\r\n")
      guard c.readLine() != nil else { return }
      c.send(verdict.accepting ? "235 2.7.0 Logged in.\r\n" : "535 5.7.8 Authentication failed.\r\n")
      c.drain(until: { $0.uppercased() == "QUIT" })
      c.send("221 2.0.0 Bye\r\n")
    }
  }
}

/// What `SMTPScript.switchable` answers, changed by the test.
final class Switch: Sendable {
  private let flag = Atomic<Bool>(true)
  var accepting: Bool {
    get { flag.load(ordering: .relaxed) }
    set { flag.store(newValue, ordering: .relaxed) }
  }
}

/// A TCP proxy on 127.0.0.1 that holds each accepted connection for `delay` seconds before connecting it to
/// `127.0.0.1:upstream` and copying bytes both ways (TLS passes through untouched). A test watches
/// `acceptCount` to act while a client's live check is in flight.
final class DelayingProxy: Sendable {
  let port: Int
  private let listener: Int32
  private let accepted = Atomic<Int>(0)

  init(upstream: Int, delay: Double) throws {
    (listener, port) = try listenOnLoopback()
    let listenFD = listener
    let counter = UnsafeSendable(self)
    Thread.detachNewThread {
      while true {
        let client = accept(listenFD, nil, nil)
        if client < 0 {
          if errno == EINTR || errno == ECONNABORTED { continue }
          return
        }
        counter.value.accepted.add(1, ordering: .relaxed)
        Thread.detachNewThread {
          usleep(UInt32(delay * 1_000_000))
          guard let server = try? connectToLoopback(port: upstream) else {
            Glibc.close(client)
            return
          }
          let done = DispatchGroup()
          for (from, to) in [(client, server), (server, client)] {
            done.enter()
            Thread.detachNewThread {
              var chunk = [UInt8](repeating: 0, count: 16384)
              while true {
                let count = chunk.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
                if count <= 0 || !sendAll(to, Array(chunk[..<count])) { break }
              }
              shutdown(to, Int32(SHUT_WR))
              done.leave()
            }
          }
          done.wait()
          Glibc.close(client)
          Glibc.close(server)
        }
      }
    }
  }

  var acceptCount: Int { accepted.load(ordering: .relaxed) }

  func stop() {
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
  }
}

/// A loopback port on which nothing listens (bound, then closed): connecting is refused.
func closedLoopbackPort() throws -> Int {
  let (fd, port) = try listenOnLoopback()
  close(fd)
  return port
}

// MARK: - Sockets

struct UnsafeSendable<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}

enum LoopbackError: Error { case setup(String) }

private func loopbackAddress(port: Int) -> sockaddr_in {
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = UInt16(port).bigEndian
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
  return address
}

private func listenOnLoopback() throws -> (Int32, Int) {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
  guard fd >= 0 else { throw LoopbackError.setup("socket: \(errno)") }
  var on: Int32 = 1
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
  var address = loopbackAddress(port: 0)
  let bound = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
  }
  guard bound == 0, listen(fd, 512) == 0 else {
    close(fd)
    throw LoopbackError.setup("bind/listen: \(errno)")
  }
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

private func connectToLoopback(port: Int) throws -> Int32 {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
  guard fd >= 0 else { throw LoopbackError.setup("socket: \(errno)") }
  var address = loopbackAddress(port: port)
  let status = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
  }
  guard status == 0 else {
    close(fd)
    throw LoopbackError.setup("connect: \(errno)")
  }
  return fd
}

private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
  var offset = 0
  while offset < bytes.count {
    let count = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    if count <= 0 {
      if count < 0 && errno == EINTR { continue }
      return false
    }
    offset += count
  }
  return true
}

// MARK: - A mailcred process that a test can kill

/// `mailcred` started in the background with stdin written and closed, its stdout and stderr collected as they
/// come, so that a test can wait for a line (the rotation test hook's pause, the URL `authorize` prints) or a
/// moment, and SIGKILL it.
final class RunningMailcred: @unchecked Sendable {
  let process = Process()
  private let collected = Mutex<(out: Data, err: Data)>((Data(), Data()))
  private let readers = DispatchGroup()

  init(_ arguments: [String], stdin: String? = nil, environment extra: [String: String] = [:]) throws {
    process.executableURL = URL(fileURLWithPath: try #require(Harness.binary))
    process.arguments = arguments
    var env = Harness.environment
    for (key, value) in extra { env[key] = value }
    process.environment = env
    let input = Pipe()
    let output = Pipe()
    let error = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = error
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
    for (handle, isError) in [(output.fileHandleForReading, false), (error.fileHandleForReading, true)] {
      readers.enter()
      let reading = UnsafeSendable(handle)
      Thread.detachNewThread { [self] in
        while true {
          let data = reading.value.availableData
          if data.isEmpty { break }
          collected.withLock { isError ? $0.err.append(data) : $0.out.append(data) }
        }
        readers.leave()
      }
    }
  }

  var stdout: String { String(decoding: collected.withLock { $0.out }, as: UTF8.self) }
  var stderr: String { String(decoding: collected.withLock { $0.err }, as: UTF8.self) }

  /// Polls until `condition` holds or the process ends or `timeout` passes; returns whether it held.
  func wait(for condition: () -> Bool, timeout: Double = 20) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
      if condition() { return true }
      if !process.isRunning { return condition() }
      usleep(2000)
    }
    return condition()
  }

  func waitForStderr(_ text: String, timeout: Double = 20) -> Bool {
    wait(for: { stderr.contains(text) }, timeout: timeout)
  }

  /// SIGKILL (if still running) and reap. Returns whether the process was still running when killed.
  @discardableResult
  func kill() -> Bool {
    let wasRunning = process.isRunning
    if wasRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    _ = readers.wait(timeout: .now() + 5)
    return wasRunning
  }

  /// Waits for a normal end (at most `timeout` s, then kills it and records the hang).
  func finish(timeout: Double = 60) -> Int32 {
    if !wait(for: { !process.isRunning }, timeout: timeout) {
      Issue.record("mailcred \(process.arguments ?? []) still running after \(timeout) s: \(stderr)")
      Glibc.kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    _ = readers.wait(timeout: .now() + 5)
    return process.terminationStatus
  }
}

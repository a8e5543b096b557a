import Foundation
#if canImport(Glibc)
import Glibc
#endif

@testable import MailcredKeyring

/// A Unix socket that plays a bus for one connection: after each read of what the client sent it writes
/// the next scripted answer; after the last it closes, or (`thenSilent`) keeps the connection open without
/// a word until the client goes — a stopped daemon — or (`late`) writes one more answer unprompted after a
/// while, noting whether the client was still connected then. Every wait has a bound, so a broken test
/// cannot hang.
final class FakeBus: @unchecked Sendable {
  let address: String
  private let path: String
  private let listener: Int32
  private let lock = NSLock()
  private var sent: [UInt8] = []
  private let done = DispatchSemaphore(value: 0)
  private var hungUpEarly = false

  /// A bus that answers each method call with `respond(call)` (nothing when nil), after accepting any
  /// SASL exchange that ends in BEGIN.
  convenience init(responding respond: @escaping @Sendable (DBusHeader) -> [UInt8]?) throws {
    try self.init(answers: [], respond: respond)
  }

  init(
    answers: [[UInt8]], thenSilent: Bool = false, late: (milliseconds: Int32, bytes: [UInt8])? = nil,
    respond: (@Sendable (DBusHeader) -> [UInt8]?)? = nil
  ) throws {
    path = NSTemporaryDirectory() + "mailcred-fakebus-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    address = "unix:path=\(path),guid=0123456789abcdef0123456789abcdef"
    listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var socketAddress = sockaddr_un()
    socketAddress.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in raw.copyBytes(from: Array(path.utf8) + [0]) }
    let bound = withUnsafePointer(to: &socketAddress) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, listen(listener, 1) == 0 else { throw POSIXError(.EADDRINUSE) }
    let thread = Thread { [self] in
      if let respond { self.respond(respond) } else { serve(answers, thenSilent: thenSilent, late: late) }
    }
    thread.start()
  }

  deinit {
    close(listener)
    unlink(path)
  }

  /// Everything the client wrote, once the connection is over (bounded wait).
  func clientBytes() -> [UInt8] {
    _ = done.wait(timeout: .now() + 10)
    return lock.withLock { sent }
  }

  /// Whether the client closed the connection before the `late` answer was due (bounded wait).
  func clientHungUpEarly() -> Bool {
    _ = done.wait(timeout: .now() + 10)
    return lock.withLock { hungUpEarly }
  }

  private func serve(_ answers: [[UInt8]], thenSilent: Bool, late: (milliseconds: Int32, bytes: [UInt8])?) {
    defer { done.signal() }
    guard waitReadable(listener) else { return }
    let peer = accept(listener, nil, nil)
    guard peer >= 0 else { return }
    defer { close(peer) }
    for answer in answers {
      guard readSome(peer) else { return }
      _ = answer.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    if let late {
      var entry = pollfd(fd: peer, events: Int16(POLLIN), revents: 0)
      var byte: UInt8 = 0
      if poll(&entry, 1, late.milliseconds) > 0, recv(peer, &byte, 1, Int32(MSG_PEEK)) <= 0 {
        lock.withLock { hungUpEarly = true }
        return
      }
      _ = late.bytes.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    if thenSilent || late != nil { while readSome(peer) {} }
  }

  private func respond(_ respond: (DBusHeader) -> [UInt8]?) {
    defer { done.signal() }
    guard waitReadable(listener) else { return }
    let peer = accept(listener, nil, nil)
    guard peer >= 0 else { return }
    defer { close(peer) }
    var begun = false
    var consumed = 0
    while readSome(peer) {
      let bytes = lock.withLock { sent }
      if !begun {
        let begin = Array("BEGIN\r\n".utf8)
        guard let at = (0...max(0, bytes.count - begin.count)).first(where: { Array(bytes[$0..<min(bytes.count, $0 + begin.count)]) == begin })
        else { continue }
        begun = true
        consumed = at + begin.count
        _ = DBusMessages.authOK.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      }
      while true {
        let rest = Array(bytes[consumed...])
        guard let length = rest.withUnsafeBytes({ try? DBusHeader.messageLength($0) }) ?? nil, rest.count >= length else { break }
        let message = Array(rest[0..<length])
        consumed += length
        guard let header = message.withUnsafeBytes({ try? DBusHeader($0) }) else { return }
        if let answer = respond(header) {
          _ = answer.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
      }
    }
  }

  private func waitReadable(_ fd: Int32) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, 10_000) > 0
  }

  private func readSome(_ fd: Int32) -> Bool {
    guard waitReadable(fd) else { return false }
    var buffer = [UInt8](repeating: 0, count: 65536)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return false }
    lock.withLock { sent += buffer[0..<n] }
    return true
  }
}

#if canImport(Glibc)
import Glibc
#endif
import MailcredCore
import MailcredSystem

/// Why the direct client stopped.
enum DirectFailure: Error, Equatable {
  /// Something the direct client does not handle (no socket, SASL refused, a reply of another shape, an
  /// error it has no answer for): the whole operation is done again through GDBus, so every outcome, message
  /// and exit status stays the one GDBus gives.
  case fallBack(String)
  /// A final answer, the same one GDBus gives in that situation: no reply within the deadline (no retry,
  /// which would double the wait), or the error a `GetSecrets` returned.
  case keyring(KeyringError)
}

/// One reply, readable while its bytes are still in the connection's buffer.
struct DBusReply {
  let header: DBusHeader
  let bytes: UnsafeRawBufferPointer

  var isError: Bool { header.type == DBusMessageType.error.rawValue }

  func body() -> DBusReader {
    DBusReader(bytes, bigEndian: header.bigEndian, from: header.bodyStart, to: header.bodyStart + header.bodyLength)
  }

  /// An error reply as GDBus reports it: its name, and the message its `(s)` body holds. nil for an error
  /// of another shape (GDBus words those itself).
  var error: (name: String, message: String)? {
    guard isError, let name = header.errorName, header.signature == "s" else { return nil }
    var reader = body()
    guard let message = try? reader.string() else { return nil }
    return (name, message)
  }
}

/// A connection to a message bus on a Unix socket, without GLib: SASL EXTERNAL, Hello, method calls sent
/// several at a time, replies matched by serial. Every wait is a poll(2) with the deadline GDBus uses for
/// a call, so a stopped daemon (or a stopped bus) is an error after 5 s, never a hang.
final class DBusConnection {
  private let fd: Int32
  private let received = WipedBuffer()
  /// The SASL exchange and `Hello`, sent with the first calls: one write and one round trip for all.
  private var unsent: [UInt8]
  private var authenticated = false
  private static let helloSerial: UInt32 = 1
  private static let hexDigits = Array("0123456789abcdef".utf8)
  private var nextSerial: UInt32 = 2
  private let timeoutMilliseconds: Int

  init(_ address: DBusUnixAddress, timeoutMilliseconds: Int) throws(DirectFailure) {
    self.timeoutMilliseconds = timeoutMilliseconds
    fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    guard fd >= 0 else { throw .fallBack("socket: \(Errno.current.text)") }
    // uid as decimal text, hex-encoded: what EXTERNAL's initial response is (the bus compares it with the
    // peer credentials of the socket). The pipelined form is what sd-bus sends: AUTH and BEGIN at once.
    var uid: [UInt8] = []
    for digit in String(getuid()).utf8 {  // "1000" → "31303030"
      uid.append(Self.hexDigits[Int(digit >> 4)])
      uid.append(Self.hexDigits[Int(digit & 0xf)])
    }
    unsent = [0] + Array("AUTH EXTERNAL ".utf8) + uid + Array("\r\nBEGIN\r\n".utf8)
    unsent += DBusMethodCall(
      serial: Self.helloSerial, destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
      interface: "org.freedesktop.DBus", member: "Hello", noAutoStart: false
    ).bytes
    do throws(DirectFailure) { try connect(address) } catch {
      close(fd)
      throw error
    }
  }

  deinit { close(fd) }

  /// Makes `count` calls (`call(i)` builds the i-th) with at most `window` awaiting a reply at once, and
  /// hands each reply to `handle` (with its index) while its bytes are in the buffer. The calls go out
  /// together, and more are sent as soon as half the window has been answered, so the service never waits
  /// on this side. Replies may come in any order. Other messages (Hello's reply, the bus's NameAcquired
  /// signal) are skipped; a failed Hello is a fall-back. The deadline is GDBus's per call: no reply for
  /// that long is "no answer".
  ///
  /// An error from `handle` ends the handling, not the exchange: the replies still due are read (and
  /// dropped) first, so that a fall-back never closes the connection with calls in flight and leaves the
  /// service answering a client that is gone while GDBus asks it all again.
  func exchange(
    _ count: Int, window: Int = .max, _ call: (Int) -> DBusMethodCall,
    _ handle: (Int, DBusReply) throws(DirectFailure) -> Void
  ) throws(DirectFailure) {
    // The calls get consecutive serials from `first` on: call i is serial first + i.
    let first = nextSerial
    var answered = [Bool](repeating: false, count: count)
    var pending = 0
    var made = 0
    func sendMore() throws(DirectFailure) {
      let end = made + max(0, min(count - made, window - pending))
      guard end > made else { return }
      try send((made..<end).map(call))
      pending += end - made
      made = end
    }
    try sendMore()
    // The first error `handle` threw: from then on replies are only counted.
    var failure: DirectFailure?
    var deadline = Self.now() + timeoutMilliseconds
    do throws(DirectFailure) {
      if !authenticated { try readAuthentication(until: deadline) }
      while pending > 0 {
        let length: Int?
        do throws(DBusMalformed) { length = try DBusHeader.messageLength(received.bytes) } catch {
          throw .fallBack(error.what)
        }
        guard let length, received.count >= length else {
          try fill(until: deadline)
          continue
        }
        defer { received.consume(length) }
        let message = UnsafeRawBufferPointer(rebasing: received.bytes[0..<length])
        let header: DBusHeader
        do throws(DBusMalformed) { header = try DBusHeader(message) } catch { throw .fallBack(error.what) }
        guard header.type == DBusMessageType.methodReturn.rawValue || header.type == DBusMessageType.error.rawValue,
          let replySerial = header.replySerial
        else { continue }
        if replySerial == Self.helloSerial {
          if header.type == DBusMessageType.error.rawValue { throw .fallBack("Hello failed") }
          continue
        }
        // A reply to a call of an earlier exchange (or to nothing) is skipped.
        guard replySerial >= first, case let index = Int(replySerial - first), index < made, !answered[index] else { continue }
        answered[index] = true
        pending -= 1
        deadline = Self.now() + timeoutMilliseconds
        guard failure == nil else { continue }
        do throws(DirectFailure) { try handle(index, DBusReply(header: header, bytes: message)) } catch {
          failure = error
          continue
        }
        if pending <= window / 2 { try sendMore() }
      }
    } catch {
      // While draining, no answer in time is still the answer (GDBus would wait as long again); a bus
      // that broke off leaves the handler's error.
      if case .keyring = error { throw error }
      throw failure ?? error
    }
    if let failure { throw failure }
  }

  /// Sends `calls` in one write (after the SASL exchange and Hello, the first time), numbered with the
  /// next serials in order.
  private func send(_ calls: [DBusMethodCall]) throws(DirectFailure) {
    var bytes = unsent
    unsent = []
    for var call in calls {
      call.serial = nextSerial
      nextSerial += 1
      bytes += call.bytes
    }
    let deadline = Self.now() + timeoutMilliseconds
    var sent = 0
    while sent < bytes.count {
      let result = bytes[sent...].withUnsafeBytes { raw in Result { () throws(Errno) in try sendSome(fd, raw) } }
      switch result {
      case .success(let n): sent += n
      case .failure(let error) where error == .again || error == .wouldBlock: try wait(for: Int16(POLLOUT), until: deadline)
      case .failure(let error): throw .fallBack("send: \(error.text)")
      }
    }
  }

  // MARK: Plumbing

  private func connect(_ address: DBusUnixAddress) throws(DirectFailure) {
    var socketAddress = sockaddr_un()
    socketAddress.sun_family = sa_family_t(AF_UNIX)
    let name: [UInt8]
    switch address {
    case .path(let path): name = Array(path.utf8) + [0]
    case .abstract(let abstract): name = [0] + Array(abstract.utf8)  // leading NUL: the abstract namespace
    }
    let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
    guard name.count <= capacity else { throw .fallBack("socket address too long") }
    withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in raw.copyBytes(from: name) }
    let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + name.count)
    let result = withUnsafePointer(to: &socketAddress) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
    }
    if result == 0 { return }
    // A Unix socket connects at once or fails (EAGAIN: the listener's backlog is full); GDBus then decides.
    let failure = Errno.current
    guard failure == .inProgress else { throw .fallBack("connect: \(failure.text)") }
    try wait(for: Int16(POLLOUT), until: Self.now() + timeoutMilliseconds)
    var error: Int32 = 0
    var size = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) == 0, error == 0 else { throw .fallBack("connect: errno \(error)") }
  }

  /// The bus's answer to AUTH: "OK <guid>\r\n". Anything else (REJECTED, ERROR, garbage): GDBus's turn.
  private func readAuthentication(until deadline: Int) throws(DirectFailure) {
    while true {
      let bytes = received.bytes
      if let lineEnd = bytes.indices.dropLast().first(where: { bytes[$0] == 0x0d && bytes[$0 + 1] == 0x0a }) {
        guard lineEnd >= 3, bytes[0] == UInt8(ascii: "O"), bytes[1] == UInt8(ascii: "K"), bytes[2] == UInt8(ascii: " ") else {
          throw .fallBack("the bus refused SASL EXTERNAL")
        }
        received.consume(lineEnd + 2)
        authenticated = true
        return
      }
      guard bytes.count < 512 else { throw .fallBack("no SASL answer line") }
      try fill(until: deadline)
    }
  }

  /// One read(2) of whatever has arrived, after waiting for it until the deadline.
  private func fill(until deadline: Int) throws(DirectFailure) {
    while true {
      let space = received.reserve(16 << 10)
      do {
        let n = try readSome(fd, into: space)
        if n == 0 { throw DirectFailure.fallBack("the bus closed the connection") }
        received.commit(n)
        return
      } catch let error as Errno where error == .again || error == .wouldBlock {
        try wait(for: Int16(POLLIN), until: deadline)
      } catch let error as Errno {
        throw .fallBack("read: \(error.text)")
      } catch let error as DirectFailure {
        throw error
      } catch {
        throw .fallBack("read: \(error)")
      }
    }
  }

  private func wait(for events: Int16, until deadline: Int) throws(DirectFailure) {
    while true {
      let left = deadline - Self.now()
      if left <= 0 { throw .keyring(noAnswerInTime()) }
      var entry = [pollfd(fd: fd, events: events, revents: 0)]
      let ready: Int
      do { ready = try pollDescriptors(&entry, timeoutMilliseconds: Int32(min(left, Int(Int32.max)))) } catch {
        throw .fallBack("poll: \(error.text)")
      }
      if ready > 0 { return }  // readable, writable, or hung up: the read or write says which
    }
  }

  /// Milliseconds on the one monotonic clock.
  private static func now() -> Int { Int(monotonicSeconds() * 1000) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredSystem
import Synchronization

/// One address getaddrinfo returned, copied out of its list.
struct SocketAddress: Sendable {
  var family: Int32
  var storage = sockaddr_storage()
  var length: socklen_t

  init(_ info: UnsafePointer<addrinfo>) {
    family = info.pointee.ai_family
    length = info.pointee.ai_addrlen
    withUnsafeMutableBytes(of: &storage) { target in
      target.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(length)))
    }
  }

  init(storage: sockaddr_storage, length: socklen_t) {
    self.family = Int32(storage.ss_family)
    self.storage = storage
    self.length = length
  }

  func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    withUnsafeBytes(of: storage) { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), length) }
  }

  /// `192.0.2.1` / `2001:db8::1`.
  var numericHost: String {
    var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    let status = withSockaddr { getnameinfo($0, $1, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) }
    return status == 0 ? string(fromNulTerminated: host) : "?"
  }

  var isLoopback: Bool {
    withUnsafeBytes(of: storage) { raw in
      switch family {
      case AF_INET:
        let address = raw.load(as: sockaddr_in.self).sin_addr.s_addr
        return UInt32(bigEndian: address) >> 24 == 127
      case AF_INET6:
        let bytes = withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
        return bytes == Array(repeating: 0, count: 15) + [1] || (mapped && bytes[12] == 127)
      default:
        return false
      }
    }
  }

  /// The EHLO argument for this (local) address: `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 4.1.3).
  var addressLiteral: String {
    family == AF_INET6 ? "[IPv6:\(numericHost)]" : "[\(numericHost)]"
  }
}

/// getaddrinfo has no timeout of its own, so it runs on a helper thread that the caller stops waiting for
/// at the deadline; the helper then frees what it found by itself.
private final class Resolution: Sendable {
  enum State {
    case pending
    case done(Result<[SocketAddress], NetError>)
    case abandoned
  }
  let state = Mutex(State.pending)
  /// Written once by the helper so that the caller can poll() for completion with its deadline.
  let waitEnd: Int32
  let signalEnd: Int32

  init?() {
    // A socket pair rather than pipe(): it takes SOCK_CLOEXEC atomically, so a concurrent fork/exec
    // elsewhere in the process never inherits it.
    var fds: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
      return nil
    }
    waitEnd = fds[0]
    signalEnd = fds[1]
  }

  deinit {
    close(waitEnd)
    close(signalEnd)
  }
}

func resolve(host: String, port: Int, deadline: Deadline) throws(NetError) -> [SocketAddress] {
  guard let resolution = Resolution() else { throw .dns("cannot create a socket pair: \(Errno(errno).text)") }
  let started = startDetachedThread {
    let result = lookUp(host: host, port: port)
    resolution.state.withLock { state in
      if case .pending = state { state = .done(result) }
    }
    var byte: UInt8 = 1
    _ = send(resolution.signalEnd, &byte, 1, Int32(MSG_NOSIGNAL))
  }
  if !started { return try lookUp(host: host, port: port).get() }
  do {
    try deadline.wait(resolution.waitEnd, for: Int16(POLLIN), "resolving \(host)")
  } catch {
    resolution.state.withLock { $0 = .abandoned }
    throw error
  }
  let result = resolution.state.withLock { state -> Result<[SocketAddress], NetError> in
    if case .done(let result) = state { return result }
    return .failure(.dns("resolver thread ended without an answer"))
  }
  return try result.get()
}

private func lookUp(host: String, port: Int) -> Result<[SocketAddress], NetError> {
  var hints = addrinfo()
  hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
  hints.ai_protocol = Int32(IPPROTO_TCP)
  hints.ai_flags = AI_NUMERICSERV
  var list: UnsafeMutablePointer<addrinfo>?
  let status = getaddrinfo(host, String(port), &hints, &list)
  guard status == 0, let list else {
    let why = status == EAI_SYSTEM ? Errno(errno).text : String(cString: gai_strerror(status))
    return .failure(.dns("\(host): \(why)"))
  }
  defer { freeaddrinfo(list) }
  var addresses: [SocketAddress] = []
  var next: UnsafeMutablePointer<addrinfo>? = list
  while let info = next {
    if info.pointee.ai_family == AF_INET || info.pointee.ai_family == AF_INET6 {
      addresses.append(SocketAddress(info))
    }
    next = info.pointee.ai_next
  }
  guard !addresses.isEmpty else { return .failure(.dns("\(host): no IPv4 or IPv6 address")) }
  return .success(addresses)
}

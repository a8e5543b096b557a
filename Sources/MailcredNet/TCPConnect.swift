#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredSystem

/// A connected, non-blocking TCP socket.
struct ConnectedSocket {
  var fd: Int32
  var peer: SocketAddress
}

/// Connects to the first address of `host` that answers, trying each (IPv6 and IPv4) in getaddrinfo's
/// order. Each attempt but the last gets an equal share of the time left, so one black-holed address
/// cannot use up the whole deadline.
func connectTCP(host: String, port: Int, deadline: Deadline) throws(NetError) -> ConnectedSocket {
  let addresses = try resolve(host: host, port: port, deadline: deadline)
  var failures: [(SocketAddress, NetError)] = []
  for (index, address) in addresses.enumerated() {
    let share = deadline.remaining / Double(addresses.count - index)
    do {
      let fd = try connectOnce(address, deadline: deadline.capped(at: share))
      return ConnectedSocket(fd: fd, peer: address)
    } catch {
      failures.append((address, error))
      if deadline.remaining <= 0 { break }
    }
  }
  let shown = failures.map { "\($0.0.numericHost): \(reason($0.1))" }.joined(separator: "; ")
  // One refusal is decisive (something is there and says no); otherwise report what the last said.
  if failures.contains(where: { if case .refused = $0.1 { true } else { false } }) { throw .refused(shown) }
  switch failures.last?.1 {
  case .timeout?: throw .timeout("connecting to \(host) port \(port)")
  case let error?: throw error.replacingReason(shown)
  case nil: throw .timeout("connecting to \(host) port \(port)")
  }
}

private func reason(_ error: NetError) -> String {
  switch error {
  case .refused(let why), .unreachable(let why), .io(let why), .timeout(let why): return why
  default: return error.description
  }
}

extension NetError {
  fileprivate func replacingReason(_ why: String) -> NetError {
    switch self {
    case .unreachable: return .unreachable(why)
    case .io: return .io(why)
    default: return self
    }
  }
}

private func connectOnce(_ address: SocketAddress, deadline: Deadline) throws(NetError) -> Int32 {
  let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
  guard fd >= 0 else { throw .unreachable("socket: \(Errno(errno).text)") }
  var success = false
  defer { if !success { close(fd) } }
  let status = address.withSockaddr { connect(fd, $0, $1) }
  if status != 0 {
    let code = errno
    guard code == EINPROGRESS || code == EINTR else { throw connectError(code) }
    try deadline.wait(fd, for: Int16(POLLOUT), "connecting")
    var pending: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &length) == 0 else { throw connectError(errno) }
    // ECONNRESET here means the connection was made and then reset (a refused SYN is ECONNREFUSED): the
    // server is reachable, so this is no connect failure; the first read reports the end, classified as
    // any other close.
    if pending != 0 && pending != ECONNRESET { throw connectError(pending) }
  }
  var on: Int32 = 1
  // Commands are small and each waits for its reply: do not let Nagle hold them back.
  setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
  success = true
  return fd
}

private func connectError(_ code: Int32) -> NetError {
  switch code {
  case ECONNREFUSED: return .refused(Errno(code).text)
  case ETIMEDOUT: return .timeout(Errno(code).text)
  default: return .unreachable(Errno(code).text)
  }
}

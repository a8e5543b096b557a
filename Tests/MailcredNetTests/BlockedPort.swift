#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A port on loopback whose connections time out instead of being refused, as a filtered port on the
/// Internet does (HARNESS.md "Hostile and slow servers"): a listener with `listen(0)` that never accepts,
/// whose one-entry queue is filled first, so that the kernel drops every later SYN.
final class BlockedPort: @unchecked Sendable {
  private let listener: Int32
  private var fillers: [Int32] = []

  init(host: String, port: Int) throws {
    listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var on: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    var address = Self.address(host, port)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(listener, 0) == 0 else {
      throw ServerError.setup("bind/listen \(host):\(port): errno \(errno)")
    }
    // Fill the queue: connect until one attempt does not complete (its SYN was dropped).
    for _ in 0..<8 {
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
      fillers.append(fd)
      var target = Self.address(host, port)
      _ = withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
      }
      var request = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      if poll(&request, 1, 200) == 0 { return }
    }
    throw ServerError.setup("the queue of \(host):\(port) never filled")
  }

  deinit {
    for fd in fillers { close(fd) }
    close(listener)
  }

  private static func address(_ host: String, _ port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    inet_pton(AF_INET, host, &address.sin_addr)
    return address
  }
}

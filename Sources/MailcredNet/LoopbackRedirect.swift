#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore
import MailcredSystem

/// The loopback redirect of an authorization-code flow (RFC 8252 7.3): a listener on 127.0.0.1 and a
/// random port that waits for the browser to come back with `code` and `state`.
///
/// Browsers open speculative connections and ask for `/favicon.ico`, so several connections are served
/// side by side (poll) and only a request for `/` carrying our `state` ends the wait. A request with
/// another state is answered 400 and ignored: a local process that guesses the port must not be able to
/// end the authorization or inject its own code.
public final class LoopbackRedirectListener {
  public let port: Int
  private let listener: Int32

  public init() throws(NetError) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .unreachable("socket: \(Errno(errno).text)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0  // the kernel picks a free port: random enough, and never in use
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      let why = Errno(errno).text
      close(fd)
      throw .unreachable("cannot listen on 127.0.0.1: \(why)")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    port = Int(UInt16(bigEndian: address.sin_port))
    listener = fd
  }

  deinit { close(listener) }

  /// `http://127.0.0.1:PORT/`, the redirect URI to register with the authorization request.
  public var redirectURI: String { "http://127.0.0.1:\(port)/" }

  /// Waits up to `timeout` seconds for `GET /?...state=STATE...`, answers it with a short page, and
  /// returns its query fields (values as bytes: the code is a secret).
  public func waitForRedirect(state: String, timeout: Double, page: String) throws(NetError) -> [(key: String, value: [UInt8])] {
    let deadline = Deadline(secondsFromNow: timeout)
    var clients: [(fd: Int32, request: [UInt8])] = []
    defer {
      for index in clients.indices {
        close(clients[index].fd)
        MailcredCore.wipe(&clients[index].request)
      }
    }
    while true {
      let left = deadline.remaining
      guard left > 0 else { throw .timeout("waiting for the browser to come back to \(redirectURI)") }
      var polled = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
      polled += clients.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
      let ready: Int
      do { ready = try pollDescriptors(&polled, timeoutMilliseconds: Int32(min(left * 1000 + 1, 60_000))) } catch {
        throw .io("poll: \(error.text)")
      }
      if ready == 0 { continue }

      var finished: Set<Int32> = []
      for (index, client) in clients.enumerated() where polled[index + 1].revents != 0 {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let received = chunk.withUnsafeMutableBytes { raw in Result { () throws(Errno) in try receive(client.fd, into: raw) } }
        guard case .success(let n) = received, n > 0 else {
          if case .failure(let error) = received, error == .again { continue }
          finished.insert(client.fd)
          continue
        }
        clients[index].request += chunk[0..<n]
        MailcredCore.wipe(&chunk)
        let request = clients[index].request
        if request.count > 16 * 1024 {
          respond(client.fd, 431, "request too large")
          finished.insert(client.fd)
          continue
        }
        guard let headEnd = firstRange(of: [13, 10, 13, 10], in: request) ?? firstRange(of: [10, 10], in: request) else { continue }
        let requestLine = request[..<(request[..<headEnd].firstIndex(of: 10) ?? headEnd)]
        let words = requestLine.split(separator: UInt8(ascii: " "))
        finished.insert(client.fd)
        guard words.count >= 2, words[0].elementsEqual("GET".utf8) else {
          respond(client.fd, 405, "mailcred expects the browser's GET here")
          continue
        }
        let target = words[1]
        let question = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        guard target[..<question].elementsEqual("/".utf8) else {
          respond(client.fd, 404, "not found")
          continue
        }
        let fields = parseQuery(target[question...].dropFirst())
        let theirs = fields.last { $0.key == "state" }?.value ?? []
        guard SecretBytes(taking: theirs) == SecretBytes(taking: Array(state.utf8)) else {
          respond(client.fd, 400, "this is not the authorization mailcred is waiting for (state mismatch)")
          continue
        }
        respond(client.fd, 200, page)
        return fields
      }
      clients.removeAll { client in
        guard finished.contains(client.fd) else { return false }
        close(client.fd)
        return true
      }
      if polled[0].revents != 0 {
        let fd = accept(listener, nil, nil)
        if fd >= 0 {
          _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
          _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
          if clients.count >= 32 {  // a flood of idle connections: drop the oldest
            close(clients[0].fd)
            clients.removeFirst()
          }
          // Sized for the largest request kept (16 KiB, plus one 4 KiB receive) so that it never grows:
          // growing would leave copies of the authorization code in freed memory.
          var request: [UInt8] = []
          request.reserveCapacity(20 * 1024)
          clients.append((fd, request))
        }
      }
    }
  }

  private func respond(_ fd: Int32, _ status: Int, _ text: String) {
    let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large"][status] ?? "Error"
    let escaped = text.replacingHTML
    let body = "<!doctype html><html><head><meta charset=\"utf-8\"><title>mailcred</title></head><body><p>\(escaped)</p></body></html>\n"
    let response = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
      + "Cache-Control: no-store\r\nConnection: close\r\n\r\n" + body
    let bytes = Array(response.utf8)
    // The answer is small: one send on a fresh socket fits its buffer; a browser that does not read is
    // not waited for.
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
  }
}

private func firstRange(of pattern: [UInt8], in bytes: [UInt8]) -> Int? {
  guard pattern.count <= bytes.count else { return nil }
  for start in 0...(bytes.count - pattern.count) where bytes[start..<start + pattern.count].elementsEqual(pattern) {
    return start
  }
  return nil
}

extension String {
  fileprivate var replacingHTML: String {
    var out = ""
    for character in self {
      switch character {
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "&": out += "&amp;"
      case "\"": out += "&quot;"
      default: out.append(character)
      }
    }
    return out
  }
}

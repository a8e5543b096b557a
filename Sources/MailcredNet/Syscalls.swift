#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import MailcredSystem

/// The instant by which a whole check must have finished.
struct Deadline {
  let end: Double

  init(secondsFromNow seconds: Double) { end = monotonicSeconds() + max(0, seconds) }
  init(end: Double) { self.end = end }

  var remaining: Double { end - monotonicSeconds() }

  /// The earlier of this deadline and `seconds` from now.
  func capped(at seconds: Double) -> Deadline { Deadline(end: min(end, monotonicSeconds() + seconds)) }

  /// Waits until `fd` is ready for `events` (POLLIN/POLLOUT) or the deadline passes.
  func wait(_ fd: Int32, for events: Int16, _ what: @autoclosure () -> String) throws(NetError) {
    while true {
      let left = remaining
      guard left > 0 else { throw .timeout(what()) }
      var request = pollfd(fd: fd, events: events, revents: 0)
      let milliseconds = Int32(min(left * 1000 + 1, Double(Int32.max)))
      switch valueOrErrno({ poll(&request, 1, milliseconds) }) {
      case .success(0): continue
      // POLLERR/POLLHUP also end the wait: the next read or write reports what happened.
      case .success: return
      case .failure(let error): throw .io("poll: \(error.text)")
      }
    }
  }
}

/// Text of a NUL-terminated C buffer filled in by a C call.
func string(fromNulTerminated buffer: [CChar]) -> String {
  String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

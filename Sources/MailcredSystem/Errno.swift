#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The one place where C's errno convention becomes a Swift error (swift-system's `valueOrErrno` pattern):
// every system call mailcred makes returns through `valueOrErrno`, so EINTR is retried in one place and
// errno is read right after the call that set it, never later.

/// A failed system call's errno.
public struct Errno: Error, Equatable, Sendable {
  public var code: Int32
  public init(_ code: Int32) { self.code = code }

  /// strerror's text ("No such file or directory").
  public var text: String { String(cString: strerror(code)) }

  public static var wouldBlock: Errno { Errno(EWOULDBLOCK) }
  public static var exists: Errno { Errno(EEXIST) }
  public static var noEntry: Errno { Errno(ENOENT) }
  public static var notDirectory: Errno { Errno(ENOTDIR) }
  public static var inProgress: Errno { Errno(EINPROGRESS) }
  public static var again: Errno { Errno(EAGAIN) }

  /// The errno of the call that just failed.
  public static var current: Errno { Errno(errno) }
}

/// Calls `body` until it stops failing with EINTR; returns its value or the errno it failed with (a
/// value of -1 means failure, as for nearly every system call).
public func valueOrErrno<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, Errno> {
  while true {
    let value = body()
    if value != -1 { return .success(value) }
    if errno != EINTR { return .failure(Errno(errno)) }
  }
}

/// The same for calls that return 0 on success and -1 on failure, as a throwing call.
public func nothingOrErrno<T: FixedWidthInteger>(_ body: () -> T) throws(Errno) {
  _ = try valueOrErrno(body).get()
}

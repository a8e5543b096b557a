#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file replaced so that no reader ever sees it half-written and a crash leaves the old or the new one:
/// a temporary file in the same directory (mkstemp: mode 600, a name nobody else can take), written, given
/// its final mode, fsynced, renamed over the target, then the directory fsynced so the rename survives a
/// crash. What fails before the rename leaves the target as it was and removes the temporary file.
///
/// Made before anything else changes (`import` creates it before storing a secret), so that a read-only
/// directory fails while nothing has changed.
public final class AtomicReplacement {
  public let target: String
  public let temporary: String
  private var fd: Int32

  /// A step that failed, with its errno: the caller says it in its own terms.
  public struct Failure: Error, Equatable, Sendable {
    public var step: String
    public var errno: Errno
  }

  /// `target` replaced through `DIR/.NAME` + `XXXXXX` (`name` defaults to the target's own name;
  /// node_exporter's collector, say, must not read the temporary file as a `*.prom`).
  public init(target: String, temporaryName name: String? = nil) throws(Failure) {
    self.target = target
    let directory = Self.directory(of: target)
    let base = name ?? "." + (target.split(separator: "/").last.map(String.init) ?? "file") + ".mailcred-"
    var template = Array("\(directory)/\(base)XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in valueOrErrno { mkstemp(buffer.baseAddress!) } }
    guard case .success(let fd) = made else {
      if case .failure(let error) = made { throw Failure(step: "create", errno: error) }
      fatalError("unreachable")
    }
    self.fd = fd
    temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }

  /// Writes `bytes`, sets `mode`, fsyncs and renames the file into place.
  public func commit(_ bytes: UnsafeRawBufferPointer, mode: mode_t) throws(Failure) {
    defer { closeTemporary() }
    func step(_ name: String, _ body: () throws(Errno) -> Void) throws(Failure) {
      do { try body() } catch {
        unlink(temporary)
        throw Failure(step: name, errno: error)
      }
    }
    try step("chmod") { () throws(Errno) in try nothingOrErrno { fchmod(fd, mode & 0o7777) } }
    try step("write") { () throws(Errno) in try writeAll(fd, bytes) }
    try step("fsync") { () throws(Errno) in try nothingOrErrno { fsync(fd) } }
    try step("close") { () throws(Errno) in
      let closing = fd
      fd = -1
      try nothingOrErrno { close(closing) }
    }
    try step("rename") { () throws(Errno) in try nothingOrErrno { rename(temporary, target) } }
    // The rename itself must reach the disk too; a directory that cannot be opened only loses that.
    if let dirfd = try? openFile(Self.directory(of: target), O_RDONLY | O_DIRECTORY | O_CLOEXEC) {
      _ = fsync(dirfd)
      closeFile(dirfd)
    }
  }

  /// Gives up: the target stays as it was.
  public func discard() {
    closeTemporary()
    unlink(temporary)
  }

  private func closeTemporary() {
    if fd >= 0 { closeFile(fd) }
    fd = -1
  }

  private static func directory(of path: String) -> String {
    let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory
  }

  deinit {
    if fd >= 0 {
      closeFile(fd)
      unlink(temporary)
    }
  }
}

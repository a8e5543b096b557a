#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a file that holds a credential (a token, a secret-id, a token cache) was not read.
public enum PrivateFileProblem: Error, Equatable, Sendable {
  case cannotOpen(Errno)
  case notRegular
  /// Group or others may read it, or another user owns it.
  case notPrivate
  case cannotRead(Errno)
  case tooLarge
}

/// Reads a whole small file that holds a credential: not through a symlink, only a regular file with no
/// group/other permission bits (and, with `ownedByUs`, owned by this user), at most `limit` bytes, into one
/// buffer of that size (it never grows), handed to the caller's `body` and zeroed afterwards.
public func withPrivateFile<R>(
  _ path: String, limit: Int = 4096, ownedByUs: Bool = false, _ body: (UnsafeRawBufferPointer) -> R
) throws(PrivateFileProblem) -> R {
  let fd: Int32
  do { fd = try openFile(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) } catch { throw .cannotOpen(error) }
  defer { closeFile(fd) }
  guard let info = try? fileStatus(fd), info.st_mode & S_IFMT == S_IFREG else { throw .notRegular }
  guard info.st_mode & 0o077 == 0, !ownedByUs || info.st_uid == getuid() else { throw .notPrivate }
  let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: limit + 1, alignment: 1)
  defer {
    explicit_bzero(buffer.baseAddress!, buffer.count)
    buffer.deallocate()
  }
  var total = 0
  while total < buffer.count {
    let n: Int
    do { n = try readSome(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...])) } catch { throw .cannotRead(error) }
    if n == 0 { break }
    total += n
  }
  guard total <= limit else { throw .tooLarge }
  return body(UnsafeRawBufferPointer(rebasing: buffer[0..<total]))
}

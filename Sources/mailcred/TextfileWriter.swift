#if canImport(Glibc)
import Glibc
#endif
import MailcredCore

/// Writes `DIR/NAME` as node_exporter's textfile collector wants it: never half-written. The text goes to a
/// temp file in the same directory (named `.NAME.XXXXXX`: the collector reads only `*.prom`, so it never
/// sees the temp file), fsynced, made world-readable (the collector runs as another user) and renamed over
/// the old file, then the directory is fsynced so the rename survives a crash. Any failure leaves the
/// previous file as it was and removes the temp file.
enum TextfileWriter {
  static func write(_ text: String, directory: String, name: String) throws(MailcredError) {
    var template = Array("\(directory)/.\(name).XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { throw .configuration("cannot create a temp file in \(directory): \(lastError())") }
    let temp = String(cString: template)
    var renamed = false
    defer {
      if !renamed { unlink(temp) }
    }
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        let why = lastError()
        close(fd)
        throw .configuration("cannot write \(temp): \(why)")
      }
      written += n
    }
    guard fchmod(fd, 0o644) == 0, fsync(fd) == 0 else {
      let why = lastError()
      close(fd)
      throw .configuration("cannot write \(temp): \(why)")
    }
    guard close(fd) == 0 else { throw .configuration("cannot write \(temp): \(lastError())") }
    let target = "\(directory)/\(name)"
    guard rename(temp, target) == 0 else { throw .configuration("cannot replace \(target): \(lastError())") }
    renamed = true
    let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dirFD >= 0 {
      _ = fsync(dirFD)
      close(dirFD)
    }
  }

  private static func lastError() -> String { String(cString: strerror(errno)) }
}

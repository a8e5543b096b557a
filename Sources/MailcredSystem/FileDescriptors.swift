#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// File descriptors through the boundary: open, read, write, close, stat.

public func openFile(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(Errno) -> Int32 {
  try valueOrErrno { open(path, flags, mode) }.get()
}

public func closeFile(_ fd: Int32) { _ = close(fd) }

/// Reads at most `buffer.count` bytes; 0 at end of file.
public func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
  try valueOrErrno { read(fd, buffer.baseAddress, buffer.count) }.get()
}

/// Reads one byte; nil at end of file.
public func readByte(_ fd: Int32) throws(Errno) -> UInt8? {
  var byte: UInt8 = 0
  let count = try withUnsafeMutableBytes(of: &byte) { raw throws(Errno) in try readSome(fd, into: raw) }
  defer { byte = 0 }
  return count == 1 ? byte : nil
}

/// Writes all of `bytes`, however many calls that takes.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
  var offset = 0
  while offset < bytes.count {
    offset += try valueOrErrno { write(fd, bytes.baseAddress! + offset, bytes.count - offset) }.get()
  }
}

public func fileStatus(_ fd: Int32) throws(Errno) -> stat {
  var info = stat()
  try nothingOrErrno { fstat(fd, &info) }
  return info
}

/// lstat: the link itself, not what it points to.
public func linkStatus(_ path: String) throws(Errno) -> stat {
  var info = stat()
  try nothingOrErrno { lstat(path, &info) }
  return info
}

public func makeDirectory(_ path: String, mode: mode_t) throws(Errno) {
  try nothingOrErrno { mkdir(path, mode) }
}

/// poll(2): how many descriptors are ready (0 when the timeout passed).
public func pollDescriptors(_ requests: inout [pollfd], timeoutMilliseconds: Int32) throws(Errno) -> Int {
  Int(try valueOrErrno { poll(&requests, nfds_t(requests.count), timeoutMilliseconds) }.get())
}

/// recv(2) into `buffer`; 0 when the peer closed, `Errno.again` when nothing is there yet (non-blocking).
public func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, flags: Int32 = 0) throws(Errno) -> Int {
  try valueOrErrno { recv(fd, buffer.baseAddress, buffer.count, flags) }.get()
}

/// send(2) without SIGPIPE; how many bytes went (`Errno.again` when the socket buffer is full).
public func sendSome(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
  try valueOrErrno { send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }.get()
}

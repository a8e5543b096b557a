#if canImport(Glibc)
import Glibc
#endif

/// What the direct client has received from the bus and not yet used. A `GetSecrets` reply holds a secret,
/// so the storage is zeroed before it is freed, and before it is given up when it grows (an `Array` would
/// leave the old copy in freed memory).
final class WipedBuffer {
  private var storage: UnsafeMutableRawBufferPointer
  private(set) var count = 0

  init(capacity: Int = 16 << 10) {
    storage = .allocate(byteCount: capacity, alignment: 8)
  }

  deinit {
    wipe(storage)
    storage.deallocate()
  }

  /// The bytes received so far.
  var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }

  /// Room for at least `free` more bytes after `count`; returns it for a read(2) to fill.
  func reserve(_ free: Int) -> UnsafeMutableRawBufferPointer {
    if storage.count - count < free {
      let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(storage.count * 2, count + free), alignment: 8)
      grown.copyMemory(from: bytes)
      wipe(storage)
      storage.deallocate()
      storage = grown
    }
    return UnsafeMutableRawBufferPointer(rebasing: storage[count...])
  }

  /// Marks `n` bytes of what `reserve` returned as filled.
  func commit(_ n: Int) { count += n }

  /// Drops the first `n` bytes (a message that was read), zeroing where they were.
  func consume(_ n: Int) {
    let rest = count - n
    if rest > 0 { memmove(storage.baseAddress!, storage.baseAddress! + n, rest) }
    wipe(UnsafeMutableRawBufferPointer(rebasing: storage[rest..<count]))
    count = rest
  }

  private func wipe(_ region: UnsafeMutableRawBufferPointer) {
    // memset_explicit is not in glibc 2.39; explicit_bzero is, and is never optimized away.
    if let base = region.baseAddress { explicit_bzero(base, region.count) }
  }
}

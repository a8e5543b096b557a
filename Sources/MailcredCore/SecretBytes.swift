#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The bytes of a secret, in memory of their own: allocated once at their final size (an array that grows
/// leaves copies behind in freed memory; this never moves), readable only by borrowing
/// (`withUnsafeBytes`), and zeroed (explicit_bzero, which the compiler may not drop) by `wipe()` or when
/// the last reference goes away.
///
/// Swift `String`s cannot be wiped, so secrets travel as this buffer from the prompt or stdin to the keyring
/// and the network, and are converted to text only where a protocol needs it (and wiped there too). It is a
/// class, not a `~Copyable` struct: checks of one secret against several endpoints run concurrently and
/// share it, so copying the reference shares the one buffer instead of the bytes. Secrets are assembled in a
/// `SecretBuffer`, which is noncopyable.
public final class SecretBytes: Sendable, Equatable {
  /// Never changes; the bytes behind it are written once before the object is shared, then only zeroed.
  nonisolated(unsafe) private let base: UnsafeMutableRawPointer?
  private let capacity: Int
  /// 0 once wiped: the bytes are then gone for every holder.
  private let length: Atomic<Int>

  /// The secret in `bytes`; the array is zeroed (it must not be used again by the caller).
  public convenience init(taking bytes: consuming [UInt8]) {
    var bytes = bytes
    self.init(copying: bytes)
    MailcredCore.wipe(&bytes)
  }

  /// A copy of `bytes` (the caller wipes its own).
  public init<C: Collection<UInt8>>(copying bytes: C) {
    let count = bytes.count
    capacity = count
    if count > 0 {
      let memory = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 1)
      _ = UnsafeMutableRawBufferPointer(start: memory, count: count).initializeMemory(as: UInt8.self, from: bytes)
      base = memory
    } else {
      base = nil
    }
    length = Atomic(count)
  }

  /// Takes over a buffer's memory (`SecretBuffer.finish`).
  init(adopting base: UnsafeMutableRawPointer?, capacity: Int, count: Int) {
    self.base = base
    self.capacity = capacity
    length = Atomic(count)
  }

  public var count: Int { length.load(ordering: .acquiring) }
  public var isEmpty: Bool { count == 0 }

  public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try body(UnsafeRawBufferPointer(start: base, count: count))
  }

  /// Valid UTF-8 is required for anything mailcred stores (every mail protocol and git need text). Decoded
  /// in place: no String is made of the secret.
  public var isValidUTF8: Bool {
    withUnsafeBytes { raw in
      var iterator = raw.makeIterator()
      var decoder = UTF8()
      while true {
        switch decoder.decode(&iterator) {
        case .scalarValue: continue
        case .emptyInput: return true
        case .error: return false
        }
      }
    }
  }

  /// `body` with the bytes as an exactly-sized array (for parsers that take one), zeroed afterwards: the
  /// array must not escape `body`.
  public func withTemporaryArray<R, E: Error>(_ body: ([UInt8]) throws(E) -> R) throws(E) -> R {
    var copy = withUnsafeBytes { Array($0) }
    defer { MailcredCore.wipe(&copy) }
    return try body(copy)
  }

  public func contains(_ byte: UInt8) -> Bool { withUnsafeBytes { $0.contains(byte) } }

  public func contains(where predicate: (UInt8) -> Bool) -> Bool { withUnsafeBytes { $0.contains(where: predicate) } }

  public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
    // Constant-time on equal lengths: comparisons happen with secrets from two sources.
    lhs.withUnsafeBytes { a in
      rhs.withUnsafeBytes { b in
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
      }
    }
  }

  /// Zeroes the bytes now, for every holder of this reference.
  public func wipe() {
    length.store(0, ordering: .releasing)
    if let base { explicit_bzero(base, capacity) }
  }

  deinit {
    wipe()
    base?.deallocate()
  }
}

/// A secret being assembled (a line typed at a prompt, git's helper input, a SASL message, a request body):
/// noncopyable, so there is one owner of the bytes; appending past the capacity moves them into a larger
/// buffer and zeroes the old one first, so no copy is left in freed memory. `finish()` hands the memory to
/// a `SecretBytes` without copying; a buffer dropped unfinished is zeroed.
public struct SecretBuffer: ~Copyable {
  private var base: UnsafeMutableRawPointer?
  private var capacity: Int
  public private(set) var count = 0

  public init(capacity: Int) {
    self.capacity = max(0, capacity)
    base = self.capacity > 0 ? UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 1) : nil
  }

  public var isEmpty: Bool { count == 0 }

  public mutating func append(_ byte: UInt8) {
    reserve(count + 1)
    base!.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
    count += 1
  }

  public mutating func append(_ bytes: UnsafeRawBufferPointer) {
    guard !bytes.isEmpty else { return }
    reserve(count + bytes.count)
    (base! + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    count += bytes.count
  }

  public mutating func append<C: Collection<UInt8>>(contentsOf bytes: C) {
    reserve(count + bytes.count)
    for byte in bytes {
      base!.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
      count += 1
    }
  }

  public mutating func append(_ secret: SecretBytes) { secret.withUnsafeBytes { append($0) } }

  public mutating func append(_ text: String) { append(contentsOf: text.utf8) }

  /// Drops the last byte (a prompt's backspace).
  public mutating func removeLast() {
    guard count > 0 else { return }
    count -= 1
    base!.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
  }

  /// Forgets everything appended (zeroed), keeping the memory.
  public mutating func removeAll() {
    if let base { explicit_bzero(base, capacity) }
    count = 0
  }

  public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    try body(UnsafeRawBufferPointer(start: base, count: count))
  }

  /// `body` with the whole capacity to fill (a read(2) into the buffer); what was there is zeroed first
  /// and `count` is left alone: `append(from:count:)` takes the bytes over.
  public mutating func withUnsafeMutableSpace<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    removeAll()
    return try body(UnsafeMutableRawBufferPointer(start: base, count: capacity))
  }

  /// Appends the first `count` bytes of `other`'s space (filled by `withUnsafeMutableSpace`).
  public mutating func append(from other: borrowing SecretBuffer, count: Int) {
    other.withSpace(count) { append($0) }
  }

  private func withSpace(_ count: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
    body(UnsafeRawBufferPointer(start: base, count: min(count, capacity)))
  }

  public consuming func finish() -> SecretBytes {
    let secret = SecretBytes(adopting: base, capacity: capacity, count: count)
    discard self
    return secret
  }

  private mutating func reserve(_ needed: Int) {
    guard needed > capacity else { return }
    let grown = max(needed, capacity * 2, 64)
    let memory = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 1)
    if let base {
      memory.copyMemory(from: base, byteCount: count)
      explicit_bzero(base, capacity)
      base.deallocate()
    }
    base = memory
    capacity = grown
  }

  deinit {
    if let base {
      explicit_bzero(base, capacity)
      base.deallocate()
    }
  }
}

/// Zeroes a byte array in place (for temporary copies such as a parsed field that never grew).
public func wipe(_ bytes: inout [UInt8]) {
  bytes.withUnsafeMutableBytes { raw in
    if let base = raw.baseAddress { explicit_bzero(base, raw.count) }
  }
  bytes.removeAll()
}

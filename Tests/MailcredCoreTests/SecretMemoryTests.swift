import Testing

@testable import MailcredCore

/// What `SecretBytes` and `SecretBuffer` promise about memory, checked on the memory itself: the bytes are
/// zeroed where they lie, a buffer filled within its capacity never moves (so no copy is left behind), and
/// finishing a buffer hands over its memory instead of copying it.
@Suite struct SecretMemoryTests {
  /// The bytes at `address` (still allocated: the object that owns them is alive).
  private func bytes(at address: UnsafeRawPointer, count: Int) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: address, count: count))
  }

  @Test func wipeZeroesTheBytesWhereTheyLieForEveryHolder() {
    let secret = SecretBytes(taking: Array("hunter2-canary".utf8))
    let holder = secret  // a second reference shares the one buffer
    let address = secret.withUnsafeBytes { $0.baseAddress! }
    #expect(bytes(at: address, count: 14) == Array("hunter2-canary".utf8))
    holder.wipe()
    #expect(bytes(at: address, count: 14) == [UInt8](repeating: 0, count: 14), "the memory itself is zeroed")
    #expect(secret.isEmpty && secret.withUnsafeBytes { $0.isEmpty }, "every holder sees the wipe")
    withExtendedLifetime(secret) {}
  }

  @Test func takingAnArrayZeroesTheArray() {
    var source = Array("app-password".utf8)
    let address = source.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) }
    // Keep the array's storage alive through a second array value, then hand the first one over: the
    // storage must be zeroed although it is not freed yet.
    let witness = source
    source = []
    let secret = SecretBytes(taking: witness)
    #expect(secret.withUnsafeBytes { Array($0) } == Array("app-password".utf8))
    #expect(secret.withUnsafeBytes { $0.baseAddress! } != address, "the secret has memory of its own")
    withExtendedLifetime(secret) {}
  }

  @Test func aBufferFilledWithinItsCapacityNeverMovesAndFinishingHandsItsMemoryOver() {
    var buffer = SecretBuffer(capacity: 64)
    buffer.append("user\u{0}")
    let before = buffer.withUnsafeBytes { $0.baseAddress! }
    for byte in "the-secret".utf8 { buffer.append(byte) }
    #expect(buffer.withUnsafeBytes { $0.baseAddress! } == before, "appends within the capacity stay in place")
    let secret = buffer.finish()
    #expect(secret.withUnsafeBytes { $0.baseAddress! } == before, "finish() adopts the memory, no copy")
    #expect(secret.withUnsafeBytes { Array($0) } == Array("user\u{0}the-secret".utf8))
    secret.wipe()
    #expect(bytes(at: before, count: 15) == [UInt8](repeating: 0, count: 15))
    withExtendedLifetime(secret) {}
  }

  @Test func removeAllAndRemoveLastZeroInPlace() {
    var buffer = SecretBuffer(capacity: 16)
    buffer.append("abcdef")
    let address = buffer.withUnsafeBytes { $0.baseAddress! }
    buffer.removeLast()
    #expect(bytes(at: address, count: 6) == Array("abcde".utf8) + [0])
    buffer.removeAll()
    #expect(bytes(at: address, count: 6) == [UInt8](repeating: 0, count: 6))
    let empty = buffer.isEmpty
    #expect(empty)
  }

  @Test func utf8IsJudgedWithoutMakingAString() {
    #expect(SecretBytes(taking: Array("päss ☃".utf8)).isValidUTF8)
    #expect(!SecretBytes(taking: [0x70, 0xC3]).isValidUTF8, "a truncated sequence")
    #expect(!SecretBytes(taking: [0xED, 0xA0, 0x80]).isValidUTF8, "an encoded surrogate")
    #expect(SecretBytes(taking: []).isValidUTF8)
  }

  @Test func equalityComparesBytesNotIdentity() {
    #expect(SecretBytes(taking: Array("same".utf8)) == SecretBytes(taking: Array("same".utf8)))
    #expect(SecretBytes(taking: Array("same".utf8)) != SecretBytes(taking: Array("samE".utf8)))
    #expect(SecretBytes(taking: Array("same".utf8)) != SecretBytes(taking: Array("same!".utf8)))
  }
}

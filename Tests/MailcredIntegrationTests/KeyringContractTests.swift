import Foundation
import MailcredCore
import MailcredKeyring
import MailcredNet
import Testing

/// Every suite that touches the one real keyring (some lock it) runs inside this serialized parent, so
/// no two of them overlap; unit and network suites still run in parallel.
@Suite(.serialized) struct RealKeyringTests {}

extension RealKeyringTests {
/// The `Keyring` contract, run against the in-memory keyring, the real gnome-keyring, a real KeePassXC and a
/// real OpenBao (KV v2, dev server over TLS).
@Suite struct KeyringContractTests {
  enum Kind: String, CaseIterable, CustomTestStringConvertible {
    case inMemory, secretService, keepassxc, openbao
    var testDescription: String { rawValue }
  }

  static var kinds: [Kind] { Harness.available ? Kind.allCases : [.inMemory] }

  func make(_ kind: Kind) -> any Keyring {
    switch kind {
    case .inMemory: return InMemoryKeyring()
    case .secretService: return SecretServiceKeyring()
    case .keepassxc: return SecretServiceKeyring(busAddress: Harness.keepassxcBus)
    case .openbao: return OpenBaoKeyring(settings: Harness.openBaoSettings())
    }
  }

  func lock(_ kind: Kind, _ keyring: any Keyring, _ locked: Bool) throws {
    switch kind {
    case .inMemory: (keyring as! InMemoryKeyring).setLocked(locked)
    case .secretService: try locked ? Harness.lockKeyring() : Harness.unlockKeyring()
    case .keepassxc: try Harness.keepassxc(locked ? "lock" : "unlock")
    case .openbao: Issue.record("OpenBao has no lock; its sealed state is tested in OpenBaoStoreTests")
    }
  }

  func attributes(_ account: String, state: String = "current") -> [String: String] {
    ["account": account, "kind": "password", "user": "u@example.test", "created": "2026-11-30T00:00:00Z", "state": state]
  }

  func secret(_ text: String) -> SecretBytes { SecretBytes(taking: Array(text.utf8)) }

  @Test(arguments: kinds)
  func createLookupSearchDelete(kind: Kind) throws {
    let keyring = make(kind)
    let account = Harness.uniqueName("contract")
    try keyring.create(attributes: attributes(account), label: "label \(account)", secret: secret("s1 \(Harness.canary)"))
    let found = try keyring.lookup(["account": account])
    #expect(found.map { String(decoding: $0.bytes, as: UTF8.self) } == "s1 \(Harness.canary)")
    let items = try keyring.search(["account": account])
    #expect(items.count == 1)
    #expect(items.first?.attributes == attributes(account))
    #expect(items.first?.locked == false)
    let item = try #require(items.first)
    #expect(String(decoding: try keyring.secret(of: item).bytes, as: UTF8.self) == "s1 \(Harness.canary)")
    try keyring.delete(item)
    #expect(try keyring.lookup(["account": account]) == nil)
    #expect(try keyring.search(["account": account]).isEmpty)
  }

  @Test(arguments: kinds)
  func createNeverReplacesAnItemWithTheSameAttributes(kind: Kind) throws {
    // Replacing is the store's job, by item identity: a Secret Service may prompt before replacing another
    // client's item (KeePassXC 2.7.4 never finishes that prompt).
    let keyring = make(kind)
    let account = Harness.uniqueName("contract")
    let first = try keyring.create(attributes: attributes(account), label: "l", secret: secret("first"))
    let second = try keyring.create(attributes: attributes(account), label: "l", secret: secret("second"))
    #expect(first.id != second.id)
    #expect(Set(try keyring.search(["account": account]).map(\.id)) == [first.id, second.id])
    #expect(String(decoding: try keyring.secret(of: second).bytes, as: UTF8.self) == "second")
    #expect(String(decoding: try keyring.secret(of: first).bytes, as: UTF8.self) == "first")
    for item in try keyring.search(["account": account]) { try keyring.delete(item) }
  }

  @Test(arguments: kinds)
  func updateChangesAttributesAndKeepsTheSecret(kind: Kind) throws {
    let keyring = make(kind)
    let account = Harness.uniqueName("contract")
    try keyring.create(attributes: attributes(account, state: "pending"), label: "l", secret: secret("kept"))
    let item = try #require(try keyring.search(["account": account]).first)
    try keyring.update(item, attributes: attributes(account, state: "current"), label: "new label")
    let updated = try #require(try keyring.search(["account": account, "state": "current"]).first)
    #expect(try keyring.search(["account": account, "state": "pending"]).isEmpty)
    #expect(String(decoding: try keyring.secret(of: updated).bytes, as: UTF8.self) == "kept")
    try keyring.delete(updated)
  }

  @Test(arguments: kinds)
  func updateCanDropAnAttribute(kind: Kind) throws {
    // KeePassXC merges new attributes into the old set: dropping one (erase drops msmtp's service=smtp)
    // must still take effect, and the secret must stay.
    let keyring = make(kind)
    let account = Harness.uniqueName("contract")
    var before = attributes(account)
    before["expires"] = "2027-01-01T00:00:00Z"
    before["service"] = "smtp"
    let item = try keyring.create(attributes: before, label: "l", secret: secret("kept \(Harness.canary)"))
    let after = attributes(account, state: "erased")
    let updated = try keyring.update(item, attributes: after, label: "l")
    let found = try keyring.search(["account": account])
    #expect(found.count == 1)
    #expect(found.first?.attributes == after)
    #expect(found.first?.id == updated.id)
    #expect(try keyring.search(["account": account, "service": "smtp"]).isEmpty)
    #expect(String(decoding: try keyring.secret(of: updated).bytes, as: UTF8.self) == "kept \(Harness.canary)")
    for item in found { try keyring.delete(item) }
  }

  @Test(arguments: kinds)
  func searchReturnsEveryItemOfAManyItemCollection(kind: Kind) throws {
    // More items than a bus allows pending replies by default (128): the pipelined attribute reads must
    // not lose any.
    let keyring = make(kind)
    let prefix = Harness.uniqueName("many")
    for index in 0..<150 {
      var values = attributes("\(prefix)-\(index)")
      values["provider"] = prefix
      try keyring.create(attributes: values, label: "l", secret: secret("s\(index)"))
    }
    let found = try keyring.search(["provider": prefix])
    #expect(found.count == 150)
    #expect(Set(found.compactMap { $0.attributes["account"] }).count == 150)
    for item in found { try keyring.delete(item) }
  }

  @Test(arguments: kinds)
  func refusesUnknownAttributes(kind: Kind) throws {
    let keyring = make(kind)
    var bad = attributes(Harness.uniqueName("contract"))
    bad["not-in-schema"] = "x"
    #expect(throws: KeyringError.self) { try keyring.create(attributes: bad, label: "l", secret: secret("s")) }
    #expect(throws: KeyringError.self) { try keyring.search(["nope": "x"]) }
  }

  @Test(arguments: kinds)
  func exactBytesSurvive(kind: Kind) throws {
    let keyring = make(kind)
    for (index, value) in ["ascii-\(Harness.canary)", "ünïcødé ☃ \(Harness.canary)", String(repeating: "k", count: 1024), "inner  spaces \(Harness.canary)"].enumerated() {
      let account = Harness.uniqueName("bytes\(index)")
      try keyring.create(attributes: attributes(account), label: "l", secret: secret(value))
      #expect(try keyring.lookup(["account": account])?.bytes == Array(value.utf8))
      for item in try keyring.search(["account": account]) { try keyring.delete(item) }
    }
  }

  /// OpenBao has no per-user lock (a sealed server is an error of its own, see OpenBaoStoreTests).
  @Test(arguments: kinds.filter { $0 != .openbao })
  func lockedItemsAreLockedNotMissing(kind: Kind) throws {
    let keyring = make(kind)
    let account = Harness.uniqueName("locked")
    try keyring.create(attributes: attributes(account), label: "l", secret: secret("s"))
    try lock(kind, keyring, true)
    #expect(throws: KeyringError.locked) { try keyring.lookup(["account": account]) }
    // gnome-keyring lists a locked item (flagged); a locked KeePassXC shows nothing, which must be
    // "locked", never an empty answer. Same for an account that does not exist.
    do {
      #expect(try keyring.search(["account": account]).first?.locked == true)
    } catch {
      #expect(error == .locked && kind == .keepassxc)
    }
    #expect(throws: KeyringError.locked) { try keyring.lookup(["account": account + "-never-stored"]) }
    #expect(throws: KeyringError.locked) { try keyring.create(attributes: attributes(account + "x"), label: "l", secret: secret("s")) }
    try lock(kind, keyring, false)
    #expect(try keyring.lookup(["account": account]) != nil)
    for item in try keyring.search(["account": account]) { try keyring.delete(item) }
  }
}
}

import Foundation
import MailcredCore
import Testing

@testable import MailcredKeyring

extension RealKeyringTests {
  /// The GLib-free client of `get` (DirectSecretService) against the real gnome-keyring and KeePassXC: it
  /// answers the common case itself, leaves locked, missing and unknown situations to GDBus, and a stopped
  /// daemon is "no answer" within the one deadline, not two.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyrings)"))
  struct DirectClientKeyringTests {
    enum Service: String, CaseIterable, CustomTestStringConvertible {
      case gnomeKeyring, keepassxc
      var testDescription: String { rawValue }
      var address: String? { self == .keepassxc ? Harness.keepassxcBus : nil }
      var keyring: SecretServiceKeyring { SecretServiceKeyring(busAddress: address) }
      func lock(_ locked: Bool) throws {
        switch self {
        case .gnomeKeyring: try locked ? Harness.lockKeyring() : Harness.unlockKeyring()
        case .keepassxc: try Harness.keepassxc(locked ? "lock" : "unlock")
        }
      }
    }

    func attributes(_ account: String) -> [String: String] {
      ["account": account, "kind": "password", "user": "d@example.test", "created": "2026-12-01T00:00:00Z", "state": "current"]
    }

    func scoped(_ query: [String: String]) -> [String: String] {
      query.merging(["xdg:schema": SchemaAttribute.schemaName]) { a, _ in a }
    }

    func direct(_ service: Service) throws -> DirectSecretService {
      try Result { () throws(DirectFailure) in try DirectSecretService(address: service.address) }.get()
    }

    @Test(arguments: Service.allCases)
    func theDirectClientReadsWhatGDBusWrote(service: Service) throws {
      let account = Harness.uniqueName("direct")
      let secret = "direct-\(Harness.canary) ü"
      let item = try service.keyring.create(attributes: attributes(account), label: account, secret: SecretBytes(taking: Array(secret.utf8)))
      defer { try? service.keyring.delete(item) }
      let client = try direct(service)
      let query = scoped(["account": account, "state": "current"])
      let found = try Result { () throws(DirectFailure) in try client.lookup(query) }.get()
      #expect(found.bytes == Array(secret.utf8))
      // The same connection serves a search, the attribute reads and a second GetSecrets.
      let search = try Result { () throws(DirectFailure) in try client.searchItems(query, openingSession: true) }.get()
      #expect(search.unlocked == [item.id])
      let read = try Result { () throws(DirectFailure) in try client.attributes(of: search.unlocked) }.get()
      #expect(read[item.id].map { $0.filter { SchemaAttribute.names.contains($0.key) } } == attributes(account))
      let secrets = try Result { () throws(DirectFailure) in try client.secrets(of: [item.id]) }.get()
      #expect(secrets[item.id]?.bytes == Array(secret.utf8))
      // A check result written directly reads back through GDBus.
      var checked = attributes(account)
      checked["checked"] = "2026-12-02T06:00:00Z"
      checked["check-result"] = "ok"
      try Result { () throws(DirectFailure) in try client.setAttributes(of: item.id, scoped(checked)) }.get()
      let gdbus = try SecretServiceBus(address: service.address).attributes(of: [item.id])[item.id]
      #expect(gdbus.map { $0.filter { SchemaAttribute.names.contains($0.key) } } == checked)
      #expect(try service.keyring.secret(of: KeyringItem(id: item.id, attributes: checked, locked: false)).bytes == Array(secret.utf8))
    }

    @Test(arguments: Service.allCases)
    func aMissingItemFallsBackAndIsNil(service: Service) throws {
      let query = scoped(["account": Harness.uniqueName("absent"), "state": "current"])
      let outcome = Result { () throws(DirectFailure) in try DirectSecretService(address: service.address).lookup(query) }
      guard case .failure(.fallBack) = outcome else {
        Issue.record("expected a fall-back, got \(outcome)")
        return
      }
      #expect(try service.keyring.lookup(["account": query["account"]!, "state": "current"]) == nil)
    }

    @Test(arguments: Service.allCases)
    func aLockedItemFallsBackAndIsLocked(service: Service) throws {
      let account = Harness.uniqueName("directlocked")
      let item = try service.keyring.create(attributes: attributes(account), label: account, secret: SecretBytes(taking: Array("x".utf8)))
      try service.lock(true)
      var unlocked = false
      defer {
        if !unlocked { try? service.lock(false) }
        try? service.keyring.delete(item)
      }
      let outcome = Result { () throws(DirectFailure) in try DirectSecretService(address: service.address).lookup(scoped(["account": account, "state": "current"])) }
      guard case .failure(.fallBack) = outcome else {
        Issue.record("expected a fall-back, got \(outcome)")
        return
      }
      #expect(throws: KeyringError.locked) { try service.keyring.lookup(["account": account, "state": "current"]) }
      try service.lock(false)
      unlocked = true
      #expect(try service.keyring.lookup(["account": account, "state": "current"])?.bytes == Array("x".utf8))
    }

    /// The whole keyring on `address`, after the direct client fell back: GDBus's own verdict, unavailable.
    private func expectUnavailableThroughGDBus(_ address: String, sourceLocation: SourceLocation = #_sourceLocation) {
      do {
        _ = try SecretServiceKeyring(busAddress: address).lookup(["account": "a"])
        Issue.record("expected .unavailable", sourceLocation: sourceLocation)
      } catch {
        guard case .unavailable = error else {
          Issue.record("expected .unavailable, got \(error)", sourceLocation: sourceLocation)
          return
        }
      }
    }

    @Test func noBusFallsBackToGDBussOwnError() throws {
      let address = "unix:path=/nonexistent/mailcred-bus"
      guard case .failure(.fallBack) = Result(catching: { () throws(DirectFailure) in try DirectSecretService(address: address) }) else {
        Issue.record("expected a fall-back")
        return
      }
      expectUnavailableThroughGDBus(address)
    }

    @Test func aBusWithoutASecretServiceIsUnavailable() throws {
      let bus = try PrivateBus("bus")
      defer { withExtendedLifetime(bus) {} }  // the daemon lives until the test ends
      let address = bus.address
      let outcome = Result { () throws(DirectFailure) in try DirectSecretService(address: address).lookup(scoped(["account": "a"])) }
      guard case .failure(.fallBack) = outcome else {
        Issue.record("expected a fall-back (ServiceUnknown), got \(outcome)")
        return
      }
      expectUnavailableThroughGDBus(address)
    }

    @Test func aStoppedKeyringDaemonIsNoAnswerWithinOneDeadline() throws {
      let account = Harness.uniqueName("stopped")
      let item = try SecretServiceKeyring().create(attributes: attributes(account), label: account, secret: SecretBytes(taking: Array("y".utf8)))
      defer { try? SecretServiceKeyring().delete(item) }
      let pid = try #require(Harness.recordedPid("gnome-keyring-daemon"))
      #expect(kill(pid, SIGSTOP) == 0)
      var continued = false
      defer { if !continued { kill(pid, SIGCONT) } }
      let started = Date()
      let direct = Result { () throws(DirectFailure) in try DirectSecretService(address: nil).lookup(scoped(["account": account, "state": "current"])) }
      #expect(direct.failureValue == .keyring(noAnswerInTime()))
      let seconds = Date().timeIntervalSince(started)
      #expect(seconds >= 4.9 && seconds < 7, "\(seconds) s")
      // Through the keyring: the same error after one deadline, not a GDBus retry after it.
      let again = Date()
      #expect(throws: noAnswerInTime()) { try SecretServiceKeyring().lookup(["account": account, "state": "current"]) }
      #expect(Date().timeIntervalSince(again) < 7)
      kill(pid, SIGCONT)
      continued = true
      #expect(try SecretServiceKeyring().lookup(["account": account, "state": "current"])?.bytes == Array("y".utf8))
    }
  }
}

extension Result {
  var failureValue: Failure? {
    if case .failure(let failure) = self { return failure }
    return nil
  }
}

import Foundation
import MailcredCore
import Testing

@testable import MailcredKeyring

/// gnome-keyring's client-registration race (upstream issues 190, 196): a call handled before the daemon
/// has registered a new client finds no client record — SearchItems fails, ReadAlias answers "/", and
/// OpenSession aborts the daemon. It was measured here: six programs writing one account at once crashed
/// the harness's gnome-keyring 42.1 (`plain_negotiate: assertion 'session' failed`, then g_variant_new of a
/// NULL). Against a scripted Secret Service that loses the race on every new sender's first call
/// (scripts/harness/racy-secret-service.py), both clients open a session only after a SearchItems answered,
/// retry the SearchItems the race refused, and read the default alias only once registered.
@Suite(.enabled(if: Harness.available, "needs scripts/test (dbus-daemon, python3-dbus)"))
struct RegistrationRaceTests {
  /// A private dbus-daemon with the racy service on it; `body` gets its address and the violations file.
  func withRacyService(_ body: (String, String) throws -> Void) throws {
    let bus = try PrivateBus("racy")
    defer { withExtendedLifetime(bus) {} }  // the daemon lives until the test ends
    let address = bus.address, directory = bus.directory
    let ready = directory + "/ready", violations = directory + "/violations"
    let service = Process()
    service.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    service.arguments = [Harness.scripts + "/harness/racy-secret-service.py", address, ready, violations]
    try service.run()
    defer {
      kill(service.processIdentifier, SIGKILL)
      service.waitUntilExit()
    }
    let started = Date()
    while !FileManager.default.fileExists(atPath: ready) && Date().timeIntervalSince(started) < 10 { usleep(20_000) }
    try #require(FileManager.default.fileExists(atPath: ready), "the racy Secret Service did not start")
    try body(address, violations)
  }

  func attributes(_ account: String) -> [String: String] {
    ["account": account, "kind": "password", "user": "r@example.test", "created": "2026-12-02T00:00:00Z", "state": "current"]
  }

  @Test func writesAndReadsNeverOpenASessionBeforeTheServiceRegisteredTheClient() throws {
    try withRacyService { address, violations in
      let account = Harness.uniqueName("racy")
      let secret = "r-\(Harness.canary)"
      // create: the default alias is read once registered (unregistered, it is "/": "no default collection").
      let made = try SecretServiceKeyring(busAddress: address).create(
        attributes: attributes(account), label: account, secret: SecretBytes(taking: Array(secret.utf8)))
      #expect(made.id.hasPrefix("/org/freedesktop/secrets/collection/login/"))
      // lookup, on new connections: the direct client's SearchItems is refused (a fall-back), GDBus asks
      // again, then opens its session and reads the secret.
      let found = try SecretServiceKeyring(busAddress: address).lookup(["account": account, "state": "current"])
      #expect(found?.bytes == Array(secret.utf8))
      // search (list's read) through the direct client and GDBus alike.
      let listed = try SecretServiceKeyring(busAddress: address).search(["account": account])
      #expect(listed.map(\.id) == [made.id])
      let recorded = (try? String(contentsOfFile: violations, encoding: .utf8)) ?? ""
      #expect(recorded.isEmpty, "\(recorded)")
    }
  }

  /// The direct client alone: it never sends OpenSession along with a new connection's first SearchItems,
  /// and the refused SearchItems is a fall-back (GDBus then asks again), not "nothing found".
  @Test func theDirectClientFallsBackWithoutOpeningASession() throws {
    try withRacyService { address, violations in
      let outcome = Result { () throws(DirectFailure) in
        try DirectSecretService(address: address).lookup(["account": "nobody", "xdg:schema": "org.mailcred.Credential"])
      }
      guard case .failure(.fallBack) = outcome else {
        Issue.record("expected a fall-back, got \(outcome)")
        return
      }
      let recorded = (try? String(contentsOfFile: violations, encoding: .utf8)) ?? ""
      #expect(recorded.isEmpty, "\(recorded)")
    }
  }
}

import Foundation
import MailcredCore
import Testing

extension RealKeyringTests.KeyringContractTests {
  /// `searchForeign`: an item another program stored (secret-tool on the real keyrings) is found by its
  /// attributes with all of them, its secret read; mailcred's own item with the same attributes is not
  /// "foreign", and mailcred's own search never sees the other program's item. OpenBao has none.
  @Test(arguments: kinds)
  func searchForeignFindsOtherProgramsItemsOnly(kind: Kind) throws {
    let keyring = make(kind)
    let user = Harness.uniqueName("foreign") + "@example.test"
    let query = ["host": "smtp.example.test", "service": "smtp", "user": user]
    let other = "other \(Harness.canary)"
    switch kind {
    case .inMemory:
      (keyring as! InMemoryKeyring).storeForeign(attributes: query, label: "msmtp", secret: secret(other))
    case .secretService, .keepassxc:
      var env: [String: String?] = ["MAILCRED_TEST_CANARY": nil]
      if kind == .keepassxc { env["DBUS_SESSION_BUS_ADDRESS"] = Harness.keepassxcBus }
      let stored = try Harness.run("/usr/bin/secret-tool", ["store", "--label=msmtp"] + query.flatMap { [$0.key, $0.value] }, stdin: other, environment: env, deadline: 20)
      #expect(stored.status == 0, "secret-tool store: \(stored.stderr)")
    case .openbao:
      #expect(try keyring.searchForeign(query).isEmpty)
      return
    }
    // mailcred's own item for the same host/service/user (as msmtp's lookup finds it).
    let own = try keyring.create(attributes: attributes(user).merging(query) { _, new in new }, label: "own", secret: secret("own"))
    defer { try? keyring.delete(own) }
    let found = try keyring.searchForeign(query)
    #expect(found.count == 1, "\(found.map(\.attributes))")
    let item = try #require(found.first)
    #expect(item.attributes["user"] == user && item.attributes["service"] == "smtp")
    #expect(String(decoding: try keyring.secret(of: item).bytes, as: UTF8.self) == other)
    #expect(try keyring.search(["user": user]).map(\.id) == [own.id], "mailcred's search saw the other item")
    if kind != .inMemory { try keyring.delete(item) }  // the test's own item: cleaned up
  }
}

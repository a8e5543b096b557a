import Foundation
import Testing

@testable import MailcredCore

/// Store and git-helper logic on the in-memory keyring; the same rules run against gnome-keyring in the
/// integration suite.
@Suite struct CredentialStoreTests {
  let keyring = InMemoryKeyring()
  var store: CredentialStore { CredentialStore(keyring: keyring) }
  let created = Date(timeIntervalSince1970: 1_790_000_000)

  func credential(_ account: String, user: String = "me@example.com", host: String = "smtp.example.com", port: Int = 587) -> Credential {
    Credential(
      account: account, kind: .appPassword, user: user,
      smtp: Endpoint(proto: .smtp, host: host, port: port, security: .default(for: .smtp, port: port)),
      created: created)
  }

  func secret(_ text: String) -> SecretBytes { SecretBytes(taking: Array(text.utf8)) }
  func text(_ secret: SecretBytes) -> String { String(decoding: secret.bytes, as: UTF8.self) }

  @Test func addThenGetReturnsTheSecret() throws {
    try store.add(credential("work"), secret: secret("one"), replace: false)
    #expect(text(try store.secret(account: "work")) == "one")
  }

  @Test func duplicateAddIsRefusedAndKeepsTheOldSecret() throws {
    try store.add(credential("work"), secret: secret("one"), replace: false)
    #expect(throws: MailcredError.self) { try store.add(credential("work"), secret: secret("two"), replace: false) }
    #expect(text(try store.secret(account: "work")) == "one")
    var newer = credential("work")
    newer.created = created.addingTimeInterval(60)
    try store.add(newer, secret: secret("two"), replace: true)
    #expect(text(try store.secret(account: "work")) == "two")
    #expect(try store.entries(account: "work").count == 1)
  }

  @Test func missingAccountIs67AndLockedIs69() throws {
    do {
      _ = try store.secret(account: "nope")
      Issue.record("expected an error")
    } catch { #expect(error.exitStatus == .noSuchAccount) }
    try store.add(credential("work"), secret: secret("one"), replace: false)
    keyring.setLocked(true)
    do {
      _ = try store.secret(account: "work")
      Issue.record("expected an error")
    } catch { #expect(error.exitStatus == .keyringUnavailable) }
  }

  @Test func eraseHidesAndRestoreBringsBack() throws {
    try store.add(credential("work"), secret: secret("one"), replace: false)
    try store.erase(try store.current(account: "work"))
    #expect(throws: MailcredError.self) { try store.secret(account: "work") }
    #expect(try store.all().map(\.credential.state) == [.erased])
    _ = try store.restore(account: "work")
    #expect(text(try store.secret(account: "work")) == "one")
  }

  @Test func removeDeletesEveryItem() throws {
    try store.add(credential("work"), secret: secret("one"), replace: false)
    #expect(try store.remove(account: "work") == 1)
    #expect(try store.all().isEmpty)
    #expect(throws: MailcredError.self) { try store.remove(account: "work") }
  }

  // MARK: git helper

  func request(_ lines: String) throws -> GitCredentialMessage { try GitCredentialMessage.parse(Array(lines.utf8)) }

  @Test func gitGetMatchesHostPortAndUser() throws {
    try store.add(credential("a", user: "alice"), secret: secret("pa"), replace: false)
    try store.add(credential("b", user: "bob"), secret: secret("pb"), replace: false)
    let helper = GitCredentialHelper(store: store)
    let bob = try #require(try helper.get(try request("protocol=smtp\nhost=smtp.example.com:587\nusername=bob\n")))
    #expect(bob.0.username == "bob")
    #expect(text(bob.1) == "pb")
    #expect(try helper.get(try request("protocol=smtp\nhost=smtp.example.com:465\nusername=bob\n")) == nil)
    #expect(try helper.get(try request("protocol=https\nhost=smtp.example.com\n")) == nil)
    #expect(try helper.get(try request("protocol=smtp\nhost=other.example.com\n")) == nil)
    let anyUser = try #require(try helper.get(try request("protocol=smtp\nhost=SMTP.example.com\n")))
    #expect(["alice", "bob"].contains(anyUser.0.username))
    // As git's own helpers: a path or an empty username must match exactly, and no credential has either.
    #expect(try helper.get(try request("protocol=smtp\nhost=smtp.example.com\npath=x/y\n")) == nil)
    #expect(try helper.get(try request("protocol=smtp\nhost=smtp.example.com\nusername=\n")) == nil)
  }

  @Test func gitStoreCreatesUpdatesAndKeepsUnchanged() throws {
    let helper = GitCredentialHelper(store: store)
    let first = try helper.store(try request("protocol=smtp\nhost=mail.example.org:465\nusername=me\npassword=p1\n"), now: created)
    #expect(first == .created("me@mail.example.org"))
    let stored = try store.current(account: "me@mail.example.org").credential
    #expect(stored.smtp == Endpoint(proto: .smtp, host: "mail.example.org", port: 465, security: .tls))
    #expect(try helper.store(try request("protocol=smtp\nhost=mail.example.org:465\nusername=me\npassword=p1\n"), now: created) == .unchanged("me@mail.example.org"))
    let later = created.addingTimeInterval(3600)
    #expect(try helper.store(try request("protocol=smtp\nhost=mail.example.org:465\nusername=me\npassword=p2\npassword_expiry_utc=1800000000\n"), now: later) == .updated("me@mail.example.org"))
    let updated = try store.current(account: "me@mail.example.org").credential
    #expect(updated.created == later)
    #expect(updated.expires == Date(timeIntervalSince1970: 1_800_000_000))
    #expect(text(try store.secret(account: "me@mail.example.org")) == "p2")
    #expect(try helper.store(try request("protocol=smtp\nhost=mail.example.org\n"), now: later) == .ignored)
  }

  @Test func gitEraseOnlyErasesTheMatchingPasswordAndIsRecoverable() throws {
    try store.add(credential("work", user: "me"), secret: secret("right"), replace: false)
    let helper = GitCredentialHelper(store: store)
    #expect(try helper.erase(try request("protocol=smtp\nhost=smtp.example.com:587\nusername=me\npassword=other\n")).isEmpty)
    #expect(text(try store.secret(account: "work")) == "right")
    #expect(try helper.erase(try request("protocol=smtp\nhost=smtp.example.com:587\nusername=me\npassword=right\n")) == ["work"])
    #expect(try helper.get(try request("protocol=smtp\nhost=smtp.example.com:587\nusername=me\n")) == nil)
    _ = try store.restore(account: "work")
    #expect(text(try store.secret(account: "work")) == "right")
  }

  @Test func gitEraseWithoutAUsernameErasesEveryMatchingUserLikeGitsOwnHelpers() throws {
    try store.add(credential("a", user: "alice"), secret: secret("pa"), replace: false)
    try store.add(credential("b", user: "bob"), secret: secret("pb"), replace: false)
    try store.add(credential("c", user: "carol", host: "other.example.com"), secret: secret("pc"), replace: false)
    let helper = GitCredentialHelper(store: store)
    #expect(try helper.erase(try request("protocol=smtp\nhost=smtp.example.com:587\n")).sorted() == ["a", "b"])
    #expect(text(try store.secret(account: "c")) == "pc")
    #expect(try store.all().filter { $0.credential.state == .erased }.count == 2)
  }
}

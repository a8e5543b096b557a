import Foundation
import MailcredCore
import Synchronization
import Testing

@testable import MailcredKeyring

/// The direct client against a scripted bus: the happy path's exact bytes, and every way a bus or a
/// service can fail it — each a fall-back to GDBus or the keyring error GDBus gives, within the deadline.
@Suite struct DirectClientTests {
  let item = "/org/freedesktop/secrets/collection/login/7"
  let query = ["account": "a", "xdg:schema": "org.mailcred.Credential"]

  /// The bus's answer to a new connection's first write: SASL, Hello, and SearchItems' reply.
  func firstRound(unlocked: [String]) -> [UInt8] {
    DBusMessages.authOK + DBusMessages.hello() + DBusMessages.nameAcquired + DBusMessages.searchItems(to: 2, unlocked: unlocked)
  }

  func lookup(_ bus: FakeBus) -> Result<SecretBytes, DirectFailure> {
    Result { () throws(DirectFailure) in try DirectSecretService(address: bus.address).lookup(query) }
  }

  /// Three round trips: OpenSession waits for SearchItems' answer on a new connection (gnome-keyring may
  /// not have registered the client yet, and an OpenSession handled then aborts it). The scripted bus
  /// answers one write at a time, so an OpenSession sent along with SearchItems would wait for a reply
  /// that never comes.
  @Test func lookupIsThreeRoundTripsAndOpenSessionWaitsForSearchItems() throws {
    let bus = try FakeBus(answers: [
      firstRound(unlocked: [item]), DBusMessages.openSession(to: 3), DBusMessages.secrets(to: 4, [(item, Array("s3cret".utf8))]),
    ])
    let secret = try lookup(bus).get()
    #expect(secret.bytes == Array("s3cret".utf8))
    let sent = bus.clientBytes()
    let uid = String(getuid()).utf8.map { String($0, radix: 16) }.joined()
    let prelude = Array("\0AUTH EXTERNAL \(uid)\r\nBEGIN\r\n".utf8)
    #expect(Array(sent.prefix(prelude.count)) == prelude)
    let text = String(decoding: sent, as: UTF8.self)
    for member in ["Hello", "SearchItems", "OpenSession", "GetSecrets"] { #expect(text.contains(member), "\(member)") }
  }

  @Test func repliesInAnyOrderAreMatchedBySerial() throws {
    let first = DBusMessages.authOK + DBusMessages.nameAcquired + DBusMessages.searchItems(to: 2, unlocked: [item])
      + DBusMessages.hello()
    let bus = try FakeBus(answers: [first, DBusMessages.openSession(to: 3), DBusMessages.secrets(to: 4, [(item, Array("x".utf8))])])
    #expect(try lookup(bus).get().bytes == Array("x".utf8))
  }

  /// Once the service has answered a SearchItems, the next one goes out with OpenSession (one round trip),
  /// and their replies may come in either order.
  @Test func aRegisteredConnectionSendsOpenSessionWithSearchItems() throws {
    let bus = try FakeBus(answers: [
      firstRound(unlocked: [item]),
      DBusMessages.openSession(to: 4) + DBusMessages.searchItems(to: 3, unlocked: [item]),
      DBusMessages.secrets(to: 5, [(item, Array("y".utf8))]),
    ])
    let client = try DirectSecretService(address: bus.address)
    _ = try Result { () throws(DirectFailure) in try client.searchItems(query, openingSession: false) }.get()
    #expect(try Result { () throws(DirectFailure) in try client.lookup(query) }.get().bytes == Array("y".utf8))
  }

  @Test func whatOnlyGDBusHandlesFallsBack() throws {
    let cases: [(String, [[UInt8]])] = [
      ("SASL refused", [Array("REJECTED EXTERNAL\r\n".utf8)]),
      ("not a bus at all", [Array("220 smtp.example ESMTP ready\r\n".utf8)]),
      ("garbage after OK", [DBusMessages.authOK + [UInt8](repeating: 0x41, count: 64)]),
      ("Hello refused", [DBusMessages.authOK + DBusMessages.error(to: 1, "org.freedesktop.DBus.Error.AccessDenied", "no")]),
      ("nothing found (maybe locked)", [firstRound(unlocked: [])]),
      ("two current items", [firstRound(unlocked: [item, item + "8"])]),
      ("not a Secret Service", [
        DBusMessages.authOK + DBusMessages.hello()
          + DBusMessages.error(to: 2, "org.freedesktop.DBus.Error.UnknownMethod", "No such interface")
          + DBusMessages.openSession(to: 3),
      ]),
      ("a reply of another type", [
        DBusMessages.authOK + DBusMessages.hello() + DBusMessages.openSession(to: 2) + DBusMessages.openSession(to: 3),
      ]),
      ("cut short, then closed", [Array(firstRound(unlocked: [item]).dropLast(5))]),
      ("a secret reply cut short", [
        firstRound(unlocked: [item]), DBusMessages.openSession(to: 3), Array(DBusMessages.secrets(to: 4, [(item, [1, 2])]).dropLast(3)),
      ]),
      ("SearchItems before the client is registered", [
        DBusMessages.authOK + DBusMessages.hello()
          + DBusMessages.error(to: 2, "org.freedesktop.DBus.Error.UnknownMethod", "Method SearchItems is not implemented")
      ]),
    ]
    for (what, answers) in cases {
      let bus = try FakeBus(answers: answers)
      let started = Date()
      guard case .failure(.fallBack) = lookup(bus) else {
        Issue.record("\(what): expected a fall-back")
        continue
      }
      #expect(Date().timeIntervalSince(started) < 2, "\(what)")
    }
  }

  /// A fall-back on one reply of several (an Attributes read of another shape, say) waits for the others
  /// before the connection closes: a client gone with calls in flight is what gnome-keyring handles worst.
  @Test func aFallBackNeverHangsUpWithACallInFlight() throws {
    let bus = try FakeBus(
      answers: [
        DBusMessages.authOK + DBusMessages.hello() + DBusMessages.nameAcquired
          + DBusMessages.error(to: 2, "org.freedesktop.DBus.Error.Failed", "busy")
      ],
      late: (milliseconds: 300, bytes: DBusMessages.attributes(to: 3, ["account": "a"])))
    let started = Date()
    do {
      let connection = try DBusConnection(#require(DBusUnixAddress.parse(bus.address)), timeoutMilliseconds: 5000)
      let calls = ["/a", "/b"].map {
        DBusMethodCall(serial: 0, destination: "org.freedesktop.secrets", path: $0, interface: "org.freedesktop.DBus.Properties", member: "Get")
      }
      let outcome = Result { () throws(DirectFailure) in
        try connection.exchange(2, { calls[$0] }) { _, reply throws(DirectFailure) in
          if reply.isError { throw .fallBack("error reply") }
        }
      }
      #expect(outcome.failureValue == .fallBack("error reply"))
    }
    #expect(!bus.clientHungUpEarly(), "closed with a call unanswered")
    #expect(Date().timeIntervalSince(started) < 2)
  }

  /// A reply that never comes while draining: no answer within the deadline (GDBus would wait as long
  /// again), not a hang.
  @Test func aReplyThatNeverComesWhileDrainingIsNoAnswerInTime() throws {
    let bus = try FakeBus(
      answers: [
        DBusMessages.authOK + DBusMessages.hello() + DBusMessages.nameAcquired
          + DBusMessages.error(to: 2, "org.freedesktop.DBus.Error.Failed", "busy")
      ], thenSilent: true)
    let connection = try DBusConnection(#require(DBusUnixAddress.parse(bus.address)), timeoutMilliseconds: 300)
    let calls = ["SearchItems", "OpenSession"].map {
      DBusMethodCall(serial: 0, destination: "org.freedesktop.secrets", path: "/", interface: "i", member: $0)
    }
    let started = Date()
    let outcome = Result { () throws(DirectFailure) in
      try connection.exchange(2, { calls[$0] }) { _, reply throws(DirectFailure) in
        if reply.isError { throw .fallBack("error reply") }
      }
    }
    #expect(outcome.failureValue == .keyring(noAnswerInTime()))
    let seconds = Date().timeIntervalSince(started)
    #expect(seconds >= 0.29 && seconds < 2, "\(seconds) s")
  }

  @Test func noSocketFallsBack() {
    let result = Result { () throws(DirectFailure) in try DirectSecretService(address: "unix:path=/nonexistent/bus") }
    guard case .failure(.fallBack) = result else {
      Issue.record("expected a fall-back")
      return
    }
  }

  @Test func aGetSecretsErrorIsTheKeyringErrorGDBusGives() throws {
    let bus = try FakeBus(answers: [
      firstRound(unlocked: [item]), DBusMessages.openSession(to: 3),
      DBusMessages.error(to: 4, "org.freedesktop.Secret.Error.IsLocked", "Cannot get secrets of a locked object"),
    ])
    guard case .failure(.keyring(.locked)) = lookup(bus) else {
      Issue.record("expected .locked")
      return
    }
  }

  @Test func anItemGoneBeforeGetSecretsIsItemVanished() throws {
    let bus = try FakeBus(answers: [firstRound(unlocked: [item]), DBusMessages.openSession(to: 3), DBusMessages.secrets(to: 4, [])])
    guard case .failure(.keyring(.itemVanished)) = lookup(bus) else {
      Issue.record("expected .itemVanished")
      return
    }
  }

  @Test func aSilentBusIsNoAnswerWithinTheDeadline() throws {
    for answers in [[], [DBusMessages.authOK + DBusMessages.hello()]] {
      let bus = try FakeBus(answers: answers, thenSilent: true)
      let connection = try DBusConnection(#require(DBusUnixAddress.parse(bus.address)), timeoutMilliseconds: 300)
      let started = Date()
      let call = DBusMethodCall(serial: 0, destination: "org.freedesktop.secrets", path: "/", interface: "i", member: "m")
      let outcome = Result { () throws(DirectFailure) in try connection.exchange(1, { _ in call }) { _, _ throws(DirectFailure) in } }
      let seconds = Date().timeIntervalSince(started)
      #expect(outcome.failureValue == .keyring(noAnswerInTime()))
      #expect(seconds >= 0.29 && seconds < 2, "\(seconds) s")
    }
  }

  @Test func attributeReadsArePipelinedAndSkipVanishedItems() throws {
    let paths = (0..<300).map { "/org/freedesktop/secrets/collection/login/\($0)" }
    // Answers each Get at once, except that every fourth is held back and answered after the next one:
    // replies out of order. Item 5 is gone.
    let held = Mutex<[UInt8]>([])
    let bus = try FakeBus(responding: { call in
      if call.member == "Hello" { return DBusMessages.hello() }
      guard call.member == "Get", let path = call.path, let index = paths.firstIndex(of: path) else { return nil }
      let reply = index == 5
        ? DBusMessages.error(to: call.serial, "org.freedesktop.Secret.Error.NoSuchObject", "gone")
        : DBusMessages.attributes(to: call.serial, ["account": "a\(index)"])
      if index % 4 == 0 && index != paths.count - 1 {
        held.withLock { $0 = reply }
        return []
      }
      return reply + held.withLock { held in defer { held = [] }; return held }
    })
    let client = try DirectSecretService(address: bus.address)
    let attributes = try Result { () throws(DirectFailure) in try client.attributes(of: paths) }.get()
    #expect(attributes.count == 299)
    #expect(attributes[paths[5]] == nil)
    #expect(attributes[paths[0]] == ["account": "a0"])
    #expect(attributes[paths[299]] == ["account": "a299"])
  }
}

extension Result {
  var failureValue: Failure? {
    if case .failure(let failure) = self { return failure }
    return nil
  }
}

import Foundation
import Synchronization
import Testing

@testable import MailcredCore

/// Rotation and audit logic on the in-memory keyring, with a fake server (a closure that accepts a set of
/// secrets). The same stories run against gnome-keyring and Dovecot in RotationTests/AuditTests; here every
/// checkpoint's keyring state is captured and replayed, which a process kill can only sample.
@Suite struct RotationLogicTests {
  let created = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21, a whole second
  var now: Date { created.addingTimeInterval(86400 * 30 + 0.25) }

  func credential(_ account: String = "work", expires: Date? = nil) -> Credential {
    Credential(
      account: account, kind: .appPassword, user: "me@example.com",
      smtp: Endpoint(proto: .smtp, host: "smtp.example.com", port: 587, security: .starttls),
      imap: Endpoint(proto: .imap, host: "imap.example.com", port: 993, security: .tls),
      created: created, expires: expires)
  }

  func secret(_ text: String) -> SecretBytes { SecretBytes(taking: Array(text.utf8)) }
  func text(_ secret: SecretBytes) -> String { String(decoding: secret.bytes, as: UTF8.self) }

  /// A server that accepts exactly `accepted` (or answers every check with `verdict`).
  static func server(accepting accepted: Set<String>, otherwise verdict: CheckClass = .rejected) -> Rotation.Verifier {
    { credential, secret in
      let ok = accepted.contains(String(decoding: secret.bytes, as: UTF8.self))
      return credential.endpoints.map {
        CheckResult(endpoint: $0, verdict: ok ? .ok : verdict, detail: ok ? "235 2.7.0 ok" : "535 5.7.8 no", latency: 0.01)
      }
    }
  }

  func setUp(_ keyring: InMemoryKeyring, expires: Date? = nil) throws -> CredentialStore {
    let store = CredentialStore(keyring: keyring)
    try store.add(credential(expires: expires), secret: secret("old"), replace: false)
    return store
  }

  func states(_ store: CredentialStore, _ account: String = "work") throws -> [CredentialState] {
    try store.entries(account: account).map(\.credential.state).sorted { $0.sortKey < $1.sortKey }
  }

  // MARK: Outcomes

  @Test func acceptedSecretBecomesCurrentAndTheOldOneIsGone() async throws {
    let store = try setUp(InMemoryKeyring(), expires: created.addingTimeInterval(86400 * 90))
    let expires = now.addingTimeInterval(86400 * 90)
    let outcome = try await Rotation(store: store).rotate(
      account: "work", to: secret("new"), expires: expires, now: now, verify: Self.server(accepting: ["old", "new"]))
    guard case .rotated(let rotated, let results) = outcome else { Issue.record("\(outcome)"); return }
    #expect(results.count == 2 && results.allSatisfy { $0.verdict == .ok })
    #expect(text(try store.secret(account: "work")) == "new")
    #expect(try states(store) == [.current])
    let stored = try store.current(account: "work").credential
    #expect(stored.attributes == rotated.attributes)  // stored dates are whole seconds
    #expect(stored.created == Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)))
    #expect(stored.attributes["expires"] == RFC3339.format(expires))
    #expect(stored.checkResult == "ok" && stored.attributes["checked"] == RFC3339.format(now))
  }

  @Test func rejectedSecretLeavesTheOldOneAndNoPendingItem() async throws {
    let store = try setUp(InMemoryKeyring())
    let outcome = try await Rotation(store: store).rotate(
      account: "work", to: secret("typo"), expires: nil, now: now, verify: Self.server(accepting: ["old"]))
    guard case .rejected(let results) = outcome else { Issue.record("\(outcome)"); return }
    #expect(results.map(\.verdict) == [.rejected, .rejected])
    #expect(text(try store.secret(account: "work")) == "old")
    #expect(try states(store) == [.current])
    #expect(try store.current(account: "work").credential == credential())
  }

  @Test(arguments: [CheckClass.timeout, .refused, .temporary, .tlsFailed])
  func unverifiableSecretLeavesTheOldOne(verdict: CheckClass) async throws {
    let store = try setUp(InMemoryKeyring())
    let outcome = try await Rotation(store: store).rotate(
      account: "work", to: secret("new"), expires: nil, now: now, verify: Self.server(accepting: [], otherwise: verdict))
    guard case .notVerified = outcome else { Issue.record("\(outcome)"); return }
    #expect(text(try store.secret(account: "work")) == "old")
    #expect(try states(store) == [.current])
  }

  @Test func oneRejectedEndpointOutweighsAnOkOne() async throws {
    let store = try setUp(InMemoryKeyring())
    let halfway: Rotation.Verifier = { credential, _ in
      [CheckResult(endpoint: credential.smtp!, verdict: .ok, detail: "235", latency: 0),
       CheckResult(endpoint: credential.imap!, verdict: .rejected, detail: "NO", latency: 0)]
    }
    let outcome = try await Rotation(store: store).rotate(account: "work", to: secret("new"), expires: nil, now: now, verify: halfway)
    guard case .rejected = outcome else { Issue.record("\(outcome)"); return }
    #expect(text(try store.secret(account: "work")) == "old")
  }

  @Test func identicalSecretIsRefusedAndNothingChanges() async throws {
    let keyring = InMemoryKeyring()
    let store = try setUp(keyring)
    await #expect(throws: MailcredError.self) {
      _ = try await Rotation(store: store).rotate(account: "work", to: secret("old"), expires: nil, now: now, verify: nil)
    }
    do {
      _ = try await Rotation(store: store).rotate(account: "work", to: secret("old"), expires: nil, now: now, verify: nil)
    } catch { #expect(error.exitStatus == .dataError) }
    #expect(try store.entries(account: "work").map(\.credential) == [credential()])
  }

  @Test func noCheckReplacesWithoutAVerdict() async throws {
    let store = try setUp(InMemoryKeyring())
    let outcome = try await Rotation(store: store).rotate(account: "work", to: secret("new"), expires: nil, now: now, verify: nil)
    guard case .rotated(let rotated, let results) = outcome else { Issue.record("\(outcome)"); return }
    #expect(results.isEmpty)
    #expect(rotated.checked == nil && rotated.checkResult == nil)
    #expect(text(try store.secret(account: "work")) == "new")
    #expect(try states(store) == [.current])
  }

  @Test func missingAccountIs67() async throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    do {
      _ = try await Rotation(store: store).rotate(account: "nope", to: secret("x"), expires: nil, now: now, verify: nil)
      Issue.record("expected an error")
    } catch { #expect(error.exitStatus == .noSuchAccount) }
  }

  /// An account added and rotated within one second: the new item must still be the newest, or a crash
  /// between promotion and deletion would let `--resume` keep the old secret.
  @Test func rotatedItemIsNewerEvenWithinTheSameSecond() async throws {
    let store = try setUp(InMemoryKeyring())
    let sameSecond = created.addingTimeInterval(0.4)
    let snapshots = Snapshots()
    var rotation = Rotation(store: store)
    rotation.checkpoint = { step in if step == 6 { snapshots.take(step, from: store.keyring) } }
    _ = try await rotation.rotate(account: "work", to: secret("new"), expires: nil, now: sameSecond, verify: nil)
    #expect(try store.current(account: "work").credential.created == created.addingTimeInterval(1))
    let crashed = try snapshots.restore(6)
    #expect(try Rotation(store: crashed).leftover(account: "work") == .twoCurrent)
    #expect(text(try crashed.secret(of: try crashed.current(account: "work"))) == "new")
    _ = try await Rotation(store: crashed).resume(account: "work", now: sameSecond, verify: nil)
    #expect(text(try crashed.secret(account: "work")) == "new")
    #expect(try states(crashed) == [.current])
  }

  // MARK: A kill at every checkpoint

  enum Path: String, CaseIterable, Sendable { case accepted, rejected, noCheck }

  struct Point: Sendable, CustomTestStringConvertible {
    var path: Path
    var step: Int
    var testDescription: String { "\(path.rawValue) @\(step)" }
  }

  /// Every checkpoint each path passes: accepted 1 2 3 5 6 7, rejected 1 2 3 4, --no-check 1 2 5 6 7.
  static let points: [Point] =
    [1, 2, 3, 5, 6, 7].map { Point(path: .accepted, step: $0) } + [1, 2, 3, 4].map { Point(path: .rejected, step: $0) }
    + [1, 2, 5, 6, 7].map { Point(path: .noCheck, step: $0) }

  /// The keyring as a SIGKILL at `point` would leave it: `get` returns a secret the server takes, and both
  /// `--resume` and `--abort` leave exactly one current item and no pending one.
  @Test(arguments: points)
  func killAtEveryCheckpointLeavesAWorkingSecret(point: Point) async throws {
    let store = try setUp(InMemoryKeyring())
    let both = Self.server(accepting: ["old", "new"])  // an app password stays valid until revoked
    let snapshots = Snapshots()
    var rotation = Rotation(store: store)
    rotation.checkpoint = { step in snapshots.take(step, from: store.keyring) }
    let newSecret = point.path == .rejected ? "typo" : "new"
    _ = try await rotation.rotate(
      account: "work", to: secret(newSecret), expires: nil, now: now, verify: point.path == .noCheck ? nil : both)
    #expect(snapshots.steps == (point.path == .accepted ? [1, 2, 3, 5, 6, 7] : point.path == .rejected ? [1, 2, 3, 4] : [1, 2, 5, 6, 7]))

    for settle in ["resume", "abort"] {
      let crashed = try snapshots.restore(point.step)
      let got = text(try crashed.secret(account: "work"))
      #expect(got == "old" || got == newSecret)
      #expect(point.path != .rejected || got == "old", "a rejected secret never becomes current")
      let verdicts = await both(credential(), secret(got)).map(\.verdict)
      #expect(verdicts == [.ok, .ok], "the secret `get` returns authenticates")
      let leftover = try Rotation(store: crashed).leftover(account: "work")
      let expectedLeftover: Rotation.Leftover =
        switch (point.path, point.step) {
        case (.accepted, 2...5), (.rejected, 2...3), (.noCheck, 2...5): .pending
        case (_, 6): .twoCurrent
        default: .none
        }
      #expect(leftover == expectedLeftover)
      // A new rotation is refused until the leftover is settled.
      if leftover != .none {
        do {
          _ = try await Rotation(store: crashed).rotate(account: "work", to: secret("third"), expires: nil, now: now, verify: both)
          Issue.record("rotate over a leftover should be refused")
        } catch { #expect(error.exitStatus == .temporaryFailure) }
      }
      if settle == "resume" {
        do {
          let outcome = try await Rotation(store: crashed).resume(account: "work", now: now, verify: both)
          #expect(leftover != .none)
          if case .rotated = outcome {
            #expect(text(try crashed.secret(account: "work")) == newSecret)
          } else if case .rejected = outcome {
            #expect(point.path == .rejected)
            #expect(text(try crashed.secret(account: "work")) == "old")
          } else {
            Issue.record("unexpected \(outcome)")
          }
        } catch {
          #expect(leftover == .none, "\(error)")
          #expect(error.exitStatus == .dataError)
        }
      } else {
        do {
          #expect(try Rotation(store: crashed).abort(account: "work") >= 1)
          #expect(text(try crashed.secret(account: "work")) == "old")
        } catch {
          #expect(leftover == .none, "\(error)")
        }
      }
      #expect(try states(crashed) == [.current])
      #expect(try Rotation(store: crashed).leftover(account: "work") == .none)
    }
  }

  /// `--resume` itself killed between promotion and deletion (checkpoint 9) leaves two current items: the
  /// next `--resume` keeps the new one.
  @Test func resumeKilledHalfWayIsResumedAgain() async throws {
    let store = try setUp(InMemoryKeyring())
    let both = Self.server(accepting: ["old", "new"])
    let first = Snapshots()
    var rotation = Rotation(store: store)
    rotation.checkpoint = { step in first.take(step, from: store.keyring) }
    _ = try await rotation.rotate(account: "work", to: secret("new"), expires: nil, now: now, verify: both)
    for resumeStep in [8, 9] {
      let crashed = try first.restore(2)
      let second = Snapshots()
      var resuming = Rotation(store: crashed)
      resuming.checkpoint = { step in second.take(step, from: crashed.keyring) }
      _ = try await resuming.resume(account: "work", now: now, verify: both)
      #expect(second.steps == [8, 9])
      let again = try second.restore(resumeStep)
      #expect(try Rotation(store: again).leftover(account: "work") == (resumeStep == 8 ? .pending : .twoCurrent))
      _ = try await Rotation(store: again).resume(account: "work", now: now, verify: both)
      #expect(text(try again.secret(account: "work")) == "new")
      #expect(try states(again) == [.current])
    }
  }

  @Test func resumeOfARejectedPendingDeletesItAndATemporaryFailureKeepsIt() async throws {
    let store = try setUp(InMemoryKeyring())
    let snapshots = Snapshots()
    var rotation = Rotation(store: store)
    rotation.checkpoint = { step in snapshots.take(step, from: store.keyring) }
    _ = try await rotation.rotate(account: "work", to: secret("new"), expires: nil, now: now, verify: nil)

    let temporary = try snapshots.restore(2)
    let outcome = try await Rotation(store: temporary).resume(
      account: "work", now: now, verify: Self.server(accepting: [], otherwise: .timeout))
    guard case .notVerified = outcome else { Issue.record("\(outcome)"); return }
    #expect(try states(temporary) == [.current, .pending])

    let rejected = try snapshots.restore(2)
    let refused = try await Rotation(store: rejected).resume(account: "work", now: now, verify: Self.server(accepting: ["old"]))
    guard case .rejected = refused else { Issue.record("\(refused)"); return }
    #expect(try states(rejected) == [.current])
    #expect(text(try rejected.secret(account: "work")) == "old")
  }

  @Test func resumeOrAbortWithNothingToSettleIs65() async throws {
    let store = try setUp(InMemoryKeyring())
    do {
      _ = try await Rotation(store: store).resume(account: "work", now: now, verify: nil)
      Issue.record("expected an error")
    } catch { #expect(error.exitStatus == .dataError) }
    do {
      _ = try Rotation(store: store).abort(account: "work")
      Issue.record("expected an error")
    } catch { #expect(error.exitStatus == .dataError) }
  }

  // MARK: Audit

  func entry(_ store: CredentialStore, _ account: String) throws -> CredentialStore.Entry {
    try store.current(account: account)
  }

  func results(_ c: Credential, _ verdicts: CheckClass...) -> [CheckResult] {
    zip(c.endpoints, verdicts).map { CheckResult(endpoint: $0, verdict: $1, detail: "", latency: 0) }
  }

  @Test func auditRowsAreWorstFirstAndTheExitStatusIsTheWorstClass() throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    let day = 86400.0
    let made: [(String, Date?)] = [
      ("a-ok", nil), ("b-expiring", now.addingTimeInterval(5 * day)), ("c-expired", now.addingTimeInterval(-3 * day)),
      ("d-rejected", nil), ("e-timeout", nil), ("f-tls", nil), ("g-valid", now.addingTimeInterval(60 * day)),
    ]
    for (account, expires) in made {
      try store.add(credential(account, expires: expires), secret: secret(account), replace: false)
    }
    var byItem: [String: [CheckResult]] = [:]
    for (account, verdicts) in [
      ("a-ok", [CheckClass.ok, .ok]), ("b-expiring", [.ok, .ok]), ("c-expired", [.ok, .ok]),
      ("d-rejected", [.ok, .rejected]), ("e-timeout", [.timeout, .ok]), ("f-tls", [.tlsFailed, .refused]),
      ("g-valid", [.ok, .ok]),
    ] {
      let e = try entry(store, account)
      byItem[e.item.id] = zip(e.credential.endpoints, verdicts).map { CheckResult(endpoint: $0, verdict: $1, detail: "", latency: 0) }
    }
    let rows = Audit.rows(entries: try store.all(), results: byItem, now: now, warningDays: 14)
    #expect(rows.map(\.credential.account) == ["c-expired", "d-rejected", "f-tls", "e-timeout", "b-expiring", "a-ok", "g-valid"])
    #expect(rows.map(\.exitStatus.rawValue) == [77, 77, 76, 75, 0, 0, 0])
    #expect(rows.map(\.attention) == [.failing, .failing, .failing, .failing, .warning, .none, .none])
    #expect(Audit.exitStatus(rows) == .authenticationRejected)
    #expect(Audit.exitStatus(rows.filter { $0.exitStatus != .authenticationRejected }) == .protocolError)
    #expect(Audit.exitStatus(rows.filter { $0.exitStatus == .ok }) == .ok, "expiring soon warns, never fails")
    #expect(Audit.exitStatus([]) == .ok)
  }

  @Test func offlineAuditJudgesExpiryAlone() throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    try store.add(credential("old", expires: now.addingTimeInterval(-1)), secret: secret("x"), replace: false)
    try store.add(credential("fine"), secret: secret("y"), replace: false)
    let rows = Audit.rows(entries: try store.all(), results: [:], now: now, warningDays: 14)
    #expect(rows.map(\.credential.account) == ["old", "fine"])
    #expect(rows.allSatisfy { $0.checks.isEmpty })
    #expect(Audit.exitStatus(rows) == .authenticationRejected)
  }

  /// The leftovers of an interrupted rotation are flagged on every row of the account, and each of two
  /// current items shows only its own checks.
  @Test func interruptedRotationsAreFlaggedAndChecksStayWithTheirItem() async throws {
    let store = try setUp(InMemoryKeyring())
    try store.add(credential("other"), secret: secret("o"), replace: false)
    let snapshots = Snapshots()
    var rotation = Rotation(store: store)
    rotation.checkpoint = { step in snapshots.take(step, from: store.keyring) }
    _ = try await rotation.rotate(account: "work", to: secret("new"), expires: nil, now: now, verify: nil)
    for step in [2, 6] {
      let crashed = try snapshots.restore(step)
      let entries = try crashed.all()
      var byItem: [String: [CheckResult]] = [:]
      for e in entries where e.credential.state == .current {
        byItem[e.item.id] = results(e.credential, .ok, .ok)
      }
      let rows = Audit.rows(entries: entries, results: byItem, now: now, warningDays: 14)
      let work = rows.filter { $0.credential.account == "work" }
      #expect(work.count == 2)
      #expect(work.allSatisfy { $0.interruptedRotation && $0.attention == .warning })
      #expect(work.map { $0.checks.count } == (step == 2 ? [2, 0] : [2, 2]))
      #expect(rows.first { $0.credential.account == "other" }?.interruptedRotation == false)
      #expect(Audit.exitStatus(rows) == .ok)
    }
  }
}

/// Keyring states captured at rotation checkpoints, replayable into a fresh in-memory keyring.
final class Snapshots: Sendable {
  struct Item: Sendable {
    var attributes: [String: String]
    var label: String
    var secret: [UInt8]
  }

  private let taken = Mutex<[(Int, [Item])]>([])

  func take(_ step: Int, from keyring: any Keyring) {
    let items = (try? keyring.search([:]))?.map { item in
      Item(attributes: item.attributes, label: (keyring as? InMemoryKeyring)?.label(of: item) ?? "", secret: (try? keyring.secret(of: item).bytes) ?? [])
    } ?? []
    taken.withLock { $0.append((step, items)) }
  }

  var steps: [Int] { taken.withLock { $0.map(\.0) } }

  /// A store holding exactly what the keyring held at `step`.
  func restore(_ step: Int) throws -> CredentialStore {
    let items = try #require(taken.withLock { $0.first { $0.0 == step }?.1 })
    let keyring = InMemoryKeyring()
    for item in items {
      try keyring.create(attributes: item.attributes, label: item.label, secret: SecretBytes(taking: item.secret))
    }
    return CredentialStore(keyring: keyring)
  }
}

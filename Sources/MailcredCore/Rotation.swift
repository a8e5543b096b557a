#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Replacing a secret without ever losing the working one.
///
/// The keyring has no transaction across items, so the writes are ordered so that a kill at any point
/// leaves a `current` item whose secret works:
///   1. store the new secret as a `pending` item      (old current untouched; `get` returns the old secret)
///   2. verify the pending secret with a live AUTH    (rejected: delete pending, old untouched)
///   3. mark the pending item `current`               (two current items, both verified; either works)
///   4. delete the old current item                   (only the new one left)
/// A kill after 1 or 2 leaves a stale `pending` item; after 3, two current items. `rotate --resume` and
/// `--abort` settle both; every other command reports them.
///
/// Checkpoints (the test hook's numbers): 1 nothing written yet · 2 pending stored · 3 pending verified ·
/// 4 rejected pending deleted · 5 about to promote · 6 promoted (two current) · 7 old deleted; in `resume`:
/// 8 pending verified · 9 promoted (two current).
public struct Rotation: Sendable {
  public typealias Verifier = @Sendable (Credential, SecretBytes) async -> [CheckResult]

  public let store: CredentialStore
  /// Called between steps with the step number; a debug-build test hook pauses there so that tests can
  /// kill the process at each point. Release behaviour: nothing.
  public var checkpoint: @Sendable (Int) -> Void = { _ in }

  public init(store: CredentialStore) { self.store = store }

  public enum Outcome: Sendable {
    /// The new secret is current; `results` are the checks that admitted it (empty with --no-check).
    case rotated(Credential, [CheckResult])
    /// The new secret was rejected; the old one is untouched.
    case rejected([CheckResult])
    /// The new secret could not be verified now (timeout, 4xx, TLS); the old one is untouched.
    case notVerified([CheckResult])

    /// The outcome of checks that did not all succeed.
    init(rejectedOrUnverified results: [CheckResult]) {
      if case .rejected = Verification(results: results).decision { self = .rejected(results) } else { self = .notVerified(results) }
    }
  }

  /// Interrupted rotations of an account, if any.
  public enum Leftover: Equatable, Sendable {
    case none
    case pending
    case twoCurrent

    /// What one account's items say.
    public init(of entries: [CredentialStore.Entry]) {
      if entries.filter({ $0.credential.state == .current }).count > 1 {
        self = .twoCurrent
      } else if entries.contains(where: { $0.credential.state == .pending }) {
        self = .pending
      } else {
        self = .none
      }
    }
  }

  public func leftover(account: String) throws(MailcredError) -> Leftover {
    Leftover(of: try store.entries(account: account))
  }

  /// The accounts among `entries` (any accounts' items) whose rotation was interrupted, in first-seen
  /// order: what `list`, `show` and `audit` report.
  public static func interrupted(_ entries: [CredentialStore.Entry]) -> [String] {
    var byAccount: [String: [CredentialStore.Entry]] = [:]
    var accounts: [String] = []
    for entry in entries {
      if byAccount[entry.credential.account] == nil { accounts.append(entry.credential.account) }
      byAccount[entry.credential.account, default: []].append(entry)
    }
    return accounts.filter { Leftover(of: byAccount[$0] ?? []) != .none }
  }

  /// Rotates `account` to `secret`. `verify` nil means --no-check. `expecting`: the id of the current item
  /// the caller saw before asking for the new secret; when another writer replaced it meanwhile, nothing
  /// is written (`changedMeanwhile`), so that of two rotations started at once exactly one wins.
  public func rotate(
    account: String, to secret: SecretBytes, expires: Date?, now: Date, verify: Verifier?, expecting: String? = nil
  ) async throws(MailcredError) -> Outcome {
    // The whole sequence is one writer: two rotations of one account run one after the other, the second
    // replacing what the first made current.
    try await store.writing(account: account) { () async throws(MailcredError) in
      try await rotateLocked(account: account, to: secret, expires: expires, now: now, verify: verify, expecting: expecting)
    }
  }

  private func rotateLocked(
    account: String, to secret: SecretBytes, expires: Date?, now: Date, verify: Verifier?, expecting: String?
  ) async throws(MailcredError) -> Outcome {
    if try leftover(account: account) != .none {
      throw .interruptedRotation(account)
    }
    let old = try store.current(account: account)
    if let expecting, old.item.id != expecting { throw .changedMeanwhile(account) }
    if try store.secret(of: old) == secret {
      throw .sameSecret
    }
    checkpoint(1)
    var fresh = old.credential
    fresh.state = .pending
    // After a kill between promotion and deletion, "the newest current item" is the new secret: it must be
    // strictly newer than the old one in the stored whole seconds, even when both were made in one second.
    fresh.created = max(wholeSeconds(now), old.credential.created.addingTimeInterval(1))
    fresh.expires = expires
    fresh.checked = nil
    fresh.checkResult = nil
    _ = try wrap { () throws(KeyringError) in
      try store.keyring.create(attributes: fresh.attributes, label: fresh.label, secret: secret)
    }
    checkpoint(2)
    var results: [CheckResult] = []
    if let verify {
      results = await verify(fresh, secret)
      checkpoint(3)
      if Verification(results: results).decision != .verified {
        try deletePending(account: account)
        checkpoint(4)
        return Outcome(rejectedOrUnverified: results)
      }
      fresh.checked = now
      fresh.checkResult = CheckClass.ok.rawValue
    }
    checkpoint(5)
    let promoted = try promotePending(account: account, as: fresh)
    checkpoint(6)
    try store.delete(old)
    checkpoint(7)
    return .rotated(promoted, results)
  }

  /// Finishes an interrupted rotation: a pending item is verified (unless `verify` is nil) and promoted; of
  /// two current items the newest stays.
  public func resume(account: String, now: Date, verify: Verifier?) async throws(MailcredError) -> Outcome {
    try await store.writing(account: account) { () async throws(MailcredError) in
      try await resumeLocked(account: account, now: now, verify: verify)
    }
  }

  private func resumeLocked(account: String, now: Date, verify: Verifier?) async throws(MailcredError) -> Outcome {
    let entries = try store.entries(account: account)
    let currents = entries.filter { $0.credential.state == .current }
    if currents.count > 1 {
      // Both were verified before step 3; the newest is what the user rotated to.
      for stale in currents.dropFirst() { try store.delete(stale) }
      return .rotated(currents[0].credential, [])
    }
    guard let pending = entries.first(where: { $0.credential.state == .pending }) else {
      throw .noInterruptedRotation(account, .resume)
    }
    var fresh = pending.credential
    var results: [CheckResult] = []
    if let verify {
      let secret = try store.secret(of: pending)
      results = await verify(fresh, secret)
      let outcome = Outcome(rejectedOrUnverified: results)
      switch Verification(results: results).decision {
      case .verified: break
      case .rejected:
        try deletePending(account: account)
        return outcome
      case .unverified: return outcome
      }
      fresh.checked = now
      fresh.checkResult = CheckClass.ok.rawValue
    }
    checkpoint(8)
    let promoted = try promotePending(account: account, as: fresh)
    checkpoint(9)
    for old in currents { try store.delete(old) }
    return .rotated(promoted, results)
  }

  /// Undoes an interrupted rotation: pending items go; of two current items the oldest stays.
  public func abort(account: String) throws(MailcredError) -> Int {
    try store.writing(account: account) { () throws(MailcredError) in try abortLocked(account: account) }
  }

  private func abortLocked(account: String) throws(MailcredError) -> Int {
    let entries = try store.entries(account: account)
    var removed = 0
    for entry in entries where entry.credential.state == .pending {
      try store.delete(entry)
      removed += 1
    }
    let currents = entries.filter { $0.credential.state == .current }
    if currents.count > 1 {
      for newer in currents.dropLast() {
        try store.delete(newer)
        removed += 1
      }
    }
    if removed == 0 { throw .noInterruptedRotation(account, .abort) }
    return removed
  }

  private func deletePending(account: String) throws(MailcredError) {
    for entry in try store.entries(account: account) where entry.credential.state == .pending {
      try store.delete(entry)
    }
  }

  private func promotePending(account: String, as credential: Credential) throws(MailcredError) -> Credential {
    guard let pending = try store.entries(account: account).first(where: { $0.credential.state == .pending }) else {
      throw .pendingVanished(account)
    }
    var promoted = credential
    promoted.state = .current
    try store.update(pending, to: promoted)
    return promoted
  }
}

/// Stored dates are whole seconds (RFC3339.format drops the fraction).
private func wholeSeconds(_ date: Date) -> Date {
  Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
}

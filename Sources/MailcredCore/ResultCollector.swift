#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// Results as they arrive from concurrent checks: kept per item, counted for the progress line, and each
/// credential's recorded on its item as soon as all its endpoints are done — so the keyring writes overlap
/// the checks still waiting for slow servers instead of following them all.
final class ResultCollector: Sendable {
  private struct State {
    var done = 0
    var waiting: [String: Int] = [:]
    var byItem: [String: [CheckResult]] = [:]
    var warnings: [Advice] = []
    var failure: MailcredError?
  }

  private let state: Mutex<State>
  private let entries: [String: CredentialStore.Entry]
  private let order: [String: [Endpoint]]
  private let total: Int
  private let recording: CredentialChecks.Recording
  private let time: Date
  private let store: CredentialStore
  private let backend: any CheckBackend
  private let progress: (@Sendable (Int, Int) -> Void)?

  init(
    _ checked: [CredentialStore.Entry], only proto: MailProtocol?, recording: CredentialChecks.Recording, at time: Date,
    store: CredentialStore, backend: any CheckBackend, progress: (@Sendable (Int, Int) -> Void)?
  ) {
    var initial = State()
    var entries: [String: CredentialStore.Entry] = [:]
    var order: [String: [Endpoint]] = [:]
    for entry in checked where entries[entry.item.id] == nil {
      let endpoints = entry.credential.endpoints(only: proto)
      entries[entry.item.id] = entry
      order[entry.item.id] = endpoints
      initial.waiting[entry.item.id] = endpoints.count
    }
    state = Mutex(initial)
    self.entries = entries
    self.order = order
    total = order.values.reduce(0) { $0 + $1.count }
    self.recording = recording
    self.time = time
    self.store = store
    self.backend = backend
    self.progress = progress
    progress?(0, total)
  }

  func add(_ result: CheckResult, item: String) async {
    let complete: [CheckResult]? = state.withLock { s in
      s.byItem[item, default: []].append(result)
      s.done += 1
      s.waiting[item, default: 1] -= 1
      progress?(s.done, total)  // under the lock: one at a time, in order
      return s.waiting[item] == 0 ? s.byItem[item] : nil
    }
    guard let complete, let entry = entries[item], shouldRecord(complete, on: entry.credential) else { return }
    let (store, time) = (self.store, self.time)
    await backend.offload { [self] in
      do throws(MailcredError) { try store.record(complete, on: entry, at: time) } catch {
        warn("could not record the check result of \(entry.credential.account): \(error.message)")
      }
    }
  }

  func warn(_ text: Advice) { state.withLock { $0.warnings.append(text) } }

  func fail(_ error: MailcredError) { state.withLock { s in s.failure = s.failure ?? error } }

  func finish() throws(MailcredError) -> CredentialChecks.StoredResults {
    let (byItem, warnings, failure) = state.withLock { ($0.byItem, $0.warnings, $0.failure) }
    if let failure { throw failure }
    // In the credential's endpoint order (as stored), whatever order the servers answered in.
    var ordered: [String: [CheckResult]] = [:]
    for (item, results) in byItem {
      let endpoints = order[item] ?? []
      ordered[item] = results.sorted { (endpoints.firstIndex(of: $0.endpoint) ?? .max) < (endpoints.firstIndex(of: $1.endpoint) ?? .max) }
    }
    return CredentialChecks.StoredResults(results: ordered, warnings: warnings)
  }

  private func shouldRecord(_ results: [CheckResult], on credential: Credential) -> Bool {
    switch recording {
    case .never: return false
    case .always: return true
    case .unlessUnchangedWithin(let seconds):
      return !Self.alreadyRecorded(results, on: credential, at: time, within: seconds)
    }
  }

  /// Whether writing `results` would only move `checked` forward by less than `seconds`. An oauth2
  /// credential is always recorded (its refresh time goes with it).
  static func alreadyRecorded(_ results: [CheckResult], on credential: Credential, at time: Date, within seconds: Double) -> Bool {
    guard credential.kind != .oauth2, let verdict = CheckClass.worst(of: results), credential.checkResult == verdict.rawValue,
      let last = credential.checked
    else { return false }
    let age = time.timeIntervalSince(last)
    return age >= 0 && age < seconds
  }
}

extension CredentialStore {
  /// Remembers the last check on the item (`checked`, `check-result`) so that `list` and `rotate` know it
  /// without the network. An oauth2 check past the token endpoint means the grant was just refreshed,
  /// which this write must not turn back (`refreshed`).
  public func record(_ results: [CheckResult], on entry: Entry, at time: Date) throws(MailcredError) {
    guard CheckClass.worst(of: results) != nil else { return }
    var credential = Verification(results: results).recorded(on: entry.credential, at: time)
    if credential.kind == .oauth2, !results.contains(where: { $0.detail.hasPrefix(OAuthCheck.tokenEndpointPrefix) }) {
      credential.refreshed = time
    }
    try record(entry, as: credential)
  }
}

import MailcredCore
import MailcredSystem
import Synchronization
import Testing
@testable import MailcredNet

#if canImport(Glibc)
import Glibc
#endif

/// The audit's admission bounds (CheckGate): never more than `total` at once, never more than
/// `perMailbox` for one key, and everything else starts at once.
@Suite(.timeLimit(.minutes(1))) struct CheckGateTests {
  private final class Peaks: Sendable {
    private struct State {
      var running = 0
      var peak = 0
      var byKey: [String: Int] = [:]
      var peakByKey: [String: Int] = [:]
    }
    private let state = Mutex(State())

    func enter(_ key: String) {
      state.withLock { s in
        s.running += 1
        s.peak = max(s.peak, s.running)
        s.byKey[key, default: 0] += 1
        s.peakByKey[key] = max(s.peakByKey[key, default: 0], s.byKey[key]!)
      }
    }

    func leave(_ key: String) { state.withLock { s in s.running -= 1; s.byKey[key]! -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
    var peakByKey: [String: Int] { state.withLock { $0.peakByKey } }
  }

  private func exercise(_ limits: CheckLimits, keys: [String]) async -> (Peaks, Double) {
    // Each body sleeps 500 ms, far longer than starting 100 tasks takes: they overlap unless held back.
    let gate = CheckGate(limits)
    let peaks = Peaks()
    let started = monotonicSeconds()
    await withTaskGroup(of: Void.self) { group in
      for key in keys {
        group.addTask {
          await gate.run(key: key) {
            peaks.enter(key)
            try? await Task.sleep(nanoseconds: 500_000_000)
            peaks.leave(key)
          }
        }
      }
    }
    return (peaks, monotonicSeconds() - started)
  }

  @Test func differentMailboxesAllStartAtOnce() async {
    let keys = (0..<100).map { "u\($0) mx.test:587" }
    // The peak, not the time, proves it (a loaded machine stretches time, never the peak).
    let (peaks, _) = await exercise(CheckLimits(), keys: keys)
    #expect(peaks.peak == 100)
  }

  @Test func oneMailboxAtATimeAndTheGlobalBoundHolds() async {
    // 5 checks of one user at one server, 20 others; at most 4 in all.
    let keys = Array(repeating: "same mx.test:587", count: 5) + (0..<20).map { "u\($0) mx.test:587" }
    let (peaks, _) = await exercise(CheckLimits(total: 4, perMailbox: 1), keys: keys)
    #expect(peaks.peak == 4)
    #expect(peaks.peakByKey["same mx.test:587"] == 1)
  }

  @Test func theKeyIsUserAtHostAndPortWithTheHostCaseFolded() {
    let a = CheckGate.key(Endpoint(proto: .smtp, host: "MX.Example.test", port: 587, security: .starttls), user: "me")
    let b = CheckGate.key(Endpoint(proto: .smtp, host: "mx.example.test", port: 587, security: .starttls), user: "me")
    let c = CheckGate.key(Endpoint(proto: .smtp, host: "mx.example.test", port: 465, security: .tls), user: "me")
    #expect(a == b)
    #expect(a != c)
  }
}

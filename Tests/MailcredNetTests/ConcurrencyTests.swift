import MailcredCore
import MailcredSystem
import Testing
@testable import MailcredNet

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite(.timeLimit(.minutes(1))) struct ConcurrencyTests {
  /// 100 checks against a server that waits 1 s before each greeting: run one at a time they would take
  /// 100 s; on the 2-thread cooperative pool with blocking I/O, ~50 s. Dedicated threads: about 1 s.
  @Test(arguments: [1.0, 0.0]) func hundredSlowServersInParallel(greetingDelay: Double) async throws {
    let server = try ScriptedServer { c in
      usleep(UInt32(greetingDelay * 1_000_000))
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["AUTH PLAIN"])
      _ = c.readLine()
      c.send("235 2.7.0 ok\r\n")
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
    let jobs = (0..<100).map { _ in
      CheckJob(endpoint: smtp(server.port, .plain), user: user, secret: secret())
    }
    let started = monotonicSeconds()
    let results = await checkAll(jobs, concurrency: 100, options: CheckOptions(timeout: 10, allowPlaintext: true))
    let elapsed = monotonicSeconds() - started
    let latencies = results.map(\.latency).sorted()
    print("latency min \(latencies.first!) median \(latencies[50]) max \(latencies.last!)")
    print("100 checks with a \(greetingDelay) s greeting delay, concurrency 100: \(elapsed) s wall")
    #expect(results.allSatisfy { $0.verdict == .ok })
    #expect(elapsed < greetingDelay + 3)
  }

  /// The same over implicit TLS (both handshake ends run in this process, so this also measures CPU).
  @Test func hundredSlowTLSServersInParallel() async throws {
    let pki = try TestPKI.shared.get()
    let server = try ScriptedServer { c in
      guard c.acceptTLS(pki.good) else { return }
      usleep(1_000_000)
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["AUTH PLAIN"])
      _ = c.readLine()
      c.send("235 2.7.0 ok\r\n")
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
    let jobs = (0..<100).map { _ in
      CheckJob(endpoint: smtp(server.port, .tls, host: "localhost"), user: user, secret: secret())
    }
    let started = monotonicSeconds()
    let results = await checkAll(jobs, concurrency: 100, options: CheckOptions(timeout: 10, caFile: pki.caFile))
    let elapsed = monotonicSeconds() - started
    print("100 TLS checks with a 1 s greeting delay, concurrency 100: \(elapsed) s wall")
    #expect(results.allSatisfy { $0.verdict == .ok }, "\(results.first { $0.verdict != .ok }?.detail ?? "")")
    #expect(elapsed < 5)
  }
}

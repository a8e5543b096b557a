#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore
import MailcredSystem
import Testing
@testable import MailcredNet

let user = "alice@example.org"
let secretText = "s3cret!"
/// base64("\0alice@example.org\0s3cret!")
let plainIR = "AGFsaWNlQGV4YW1wbGUub3JnAHMzY3JldCE="

func secret() -> SecretBytes { SecretBytes(taking: Array(secretText.utf8)) }

func smtp(_ port: Int, _ security: TransportSecurity = .starttls, host: String = "127.0.0.1") -> Endpoint {
  Endpoint(proto: .smtp, host: host, port: port, security: security)
}

func check(_ endpoint: Endpoint, timeout: Double = 5, caFile: String? = nil, allowPlaintext: Bool = false) async
  -> CheckResult
{
  await checkCredential(
    endpoint: endpoint, user: user, secret: secret(),
    options: CheckOptions(timeout: timeout, caFile: caFile, allowPlaintext: allowPlaintext))
}

/// Servers that misbehave on purpose: every case must land in its class, quickly, without a credential
/// crossing an unprotected connection.
@Suite(.timeLimit(.minutes(1))) struct HostileServerTests {
  @Test func noStarttlsOfferedMeansNoAuthSent() async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["AUTH PLAIN LOGIN", "SIZE 1000"])
      c.drain()
    }
    let result = await check(smtp(server.port))
    #expect(result.verdict == .starttlsMissing)
    #expect(await !server.settled.contains { $0.uppercased().hasPrefix("AUTH") || $0.contains(plainIR) })
    #expect(await server.settled.last == "QUIT")
  }

  @Test func greetingThatNeverComesTimesOutOnTime() async throws {
    let server = try ScriptedServer { c in c.drain() }
    let started = monotonicSeconds()
    let result = await check(smtp(server.port), timeout: 1)
    let elapsed = monotonicSeconds() - started
    #expect(result.verdict == .timeout)
    #expect(result.detail.contains("greeting"))
    #expect(elapsed < 2.0)
  }

  @Test(arguments: ["220-first line of two\r\n", "220 mx.te", ""])
  func connectionClosedMidReply(sent: String) async throws {
    let server = try ScriptedServer { c in c.send(sent) }
    let result = await check(smtp(server.port))
    #expect(result.verdict == .protocolError)
    #expect(result.detail.contains("closed"))
  }

  @Test(arguments: [1 << 20, 10 << 20])
  func hugeLineIsAProtocolErrorWithBoundedMemory(size: Int) async throws {
    let server = try ScriptedServer { c in
      let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
      c.send("220 ")
      for _ in 0..<(size / chunk.count) { c.send(chunk) }
      c.drain()
    }
    let started = monotonicSeconds()
    let result = await check(smtp(server.port))
    #expect(result.verdict == .protocolError)
    #expect(result.detail.contains("longer than"))
    #expect(monotonicSeconds() - started < 3)
  }

  @Test(arguments: ["HTTP/1.1 400 Bad Request\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "\u{16}\u{03}\u{01}\u{00}\r\n"])
  func garbageReplyCode(greeting: String) async throws {
    let server = try ScriptedServer { c in
      c.send(greeting)
      c.drain()
    }
    let result = await check(smtp(server.port))
    #expect(result.verdict == .protocolError)
    #expect(result.detail.contains("malformed"))
  }

  @Test func temporaryFailureToStarttlsSendsNoCredential() async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS", "AUTH PLAIN"])
      _ = c.readLine()
      c.send("454 4.7.0 TLS not available due to local problem\r\n")
      c.drain()
    }
    let result = await check(smtp(server.port))
    #expect(result.verdict == .temporary)
    #expect(result.detail == "454 4.7.0 TLS not available due to local problem")
    #expect(await !server.settled.contains { $0.uppercased().hasPrefix("AUTH") })
  }

  @Test func plaintextInjectedAfterStarttlsIsRefused() async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS", "AUTH PLAIN"])
      _ = c.readLine()
      // The classic CVE-2011-0411 shape: the go-ahead and forged replies in one segment.
      c.send("220 2.0.0 go ahead\r\n250-mx.test\r\n250 AUTH PLAIN LOGIN\r\n")
      c.drain()
    }
    let result = await check(smtp(server.port))
    #expect(result.verdict == .protocolError)
    #expect(result.detail.contains("unencrypted"))
    #expect(await !server.settled.contains { $0.uppercased().hasPrefix("AUTH") || $0.contains(plainIR) })
  }

  @Test func closedPortIsRefused() async throws {
    let server = try ScriptedServer { _ in }
    let port = server.port
    server.stop()
    try await Task.sleep(for: .milliseconds(50))
    let result = await check(smtp(port))
    #expect(result.verdict == .refused)
  }

  @Test func unresolvableNameIsDNS() async {
    let result = await check(smtp(587, host: "nonexistent.invalid"))
    #expect(result.verdict == .dns)
    #expect(result.detail.contains("nonexistent.invalid"))
  }

  @Test func replayedProviderRepliesLandInTheirClasses() async throws {
    let replies: [(String, CheckClass)] = [
      ("535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [AM0PR02CA0001]\r\n", .basicAuthDisabled),
      ("534-5.7.9 Application-specific password required. Learn more at\r\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp\r\n", .appPasswordRequired),
      ("454 4.7.0 Temporary authentication failure.\r\n", .temporary),
      ("535 5.7.8 Authentication failed.\r\n", .rejected),
      ("235 2.7.0 Authentication successful\r\n", .ok),
    ]
    for (reply, expected) in replies {
      let server = try ScriptedServer { c in
        c.send("220 mx.test ESMTP\r\n")
        c.answerEHLO(["AUTH PLAIN LOGIN"])
        _ = c.readLine()
        c.send(reply)
        c.drain(until: { $0 == "QUIT" })
        c.send("221 2.0.0 Bye\r\n")
      }
      let result = await check(smtp(server.port, .plain), allowPlaintext: true)
      #expect(result.verdict == expected, "\(reply)")
      #expect(!result.detail.contains(secretText) && !result.detail.contains(plainIR))
      #expect(server.received.filter { $0.hasPrefix("AUTH") } == ["AUTH PLAIN \(plainIR)"])
    }
  }

  @Test func plainTextNeedsPermission() async throws {
    let server = try ScriptedServer { c in c.send("220 mx.test\r\n") }
    let refused = await check(smtp(server.port, .plain))
    #expect(refused.verdict == .protocolError)
    #expect(refused.detail.contains("without TLS"))
    let remote = await check(smtp(server.port, .plain, host: "192.0.2.1"), allowPlaintext: true)
    #expect(remote.verdict == .protocolError)
    #expect(server.connectionCount == 0)
  }

  @Test func checkAllKeepsJobOrder() async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["AUTH PLAIN"])
      _ = c.readLine()
      c.send("235 2.7.0 ok\r\n")
      c.drain()
    }
    let closed = try ScriptedServer { _ in }
    closed.stop()
    let jobs = [server.port, closed.port, server.port, 0].map {
      CheckJob(endpoint: smtp($0 == 0 ? 587 : $0, $0 == 0 ? .tls : .plain, host: $0 == 0 ? "nonexistent.invalid" : "127.0.0.1"),
        user: user, secret: secret())
    }
    let results = await checkAll(jobs, concurrency: 2, options: CheckOptions(timeout: 5, allowPlaintext: true))
    #expect(results.map(\.verdict) == [.ok, .refused, .ok, .dns])
  }

}

import Foundation
import MailcredCore
import MailcredSpelling
import MailcredSystem
import Testing
@testable import MailcredNet

/// Issue 18: a failed check runs the cheap probes that tell its causes apart and reports the one that holds.
/// Every server here records what it received: no probe may carry AUTH, a LOGIN or any byte of the secret.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ProbeTests {
  let pki: TestPKI
  init() throws { pki = try TestPKI.shared.get() }

  static let secretText = "probe-MCANARY7q-pw"
  /// base64("\0alice@example.org\0probe-MCANARY7q-pw"), what AUTH PLAIN would carry.
  static let plainIR = Data("\0\(user)\0\(secretText)".utf8).base64EncodedString()

  func run(_ endpoint: Endpoint, timeout: Double = 15) async -> (CheckResult, Double) {
    let started = monotonicSeconds()
    let result = await checkCredential(
      endpoint: endpoint, user: user, secret: SecretBytes(taking: Array(Self.secretText.utf8)),
      options: CheckOptions(timeout: timeout))
    return (result, monotonicSeconds() - started)
  }

  /// Nothing the servers received is a command that authenticates, and no byte sequence of the secret crossed.
  func expectNothingSecretReceived(_ servers: [ScriptedServer]) async throws {
    for server in servers {
      #expect(await !server.settled.contains { line in
        let upper = line.uppercased()
        return upper.hasPrefix("AUTH") || upper.contains(" AUTHENTICATE") || upper.contains(" LOGIN")
          || line.contains(Self.secretText) || line.contains(Self.plainIR)
      }, "\(server.received)")
      let clear = String(decoding: server.clearText, as: UTF8.self)
      #expect(!clear.contains(Self.secretText) && !clear.contains(Self.plainIR) && !clear.uppercased().contains("AUTH "))
    }
  }

  func implicitTLS(_ proto: MailProtocol, host: String = "127.0.0.1", port: Int = 0) throws -> ScriptedServer {
    let pki = self.pki
    return try ScriptedServer(host: host, port: port) { c in
      guard c.acceptTLS(pki.good) else { return }
      c.send(proto == .smtp ? "220 mx.test ESMTP\r\n" : "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
      c.drain()
    }
  }

  func clearGreeting(_ proto: MailProtocol, host: String = "127.0.0.1", port: Int = 0) throws -> ScriptedServer {
    try ScriptedServer(host: host, port: port) { c in
      c.send(proto == .smtp ? "220 mx.test ESMTP\r\n" : "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
      c.drain()
    }
  }

  // MARK: Wrong security for the port

  @Test(arguments: MailProtocol.allCases)
  func starttlsStoredOnAnImplicitTLSPortIsNamedAtOnce(proto: MailProtocol) async throws {
    let server = try implicitTLS(proto)
    let endpoint = Endpoint(proto: proto, host: "127.0.0.1", port: server.port, security: .starttls)
    let (result, seconds) = await run(endpoint)  // the default timeout: 15 s
    #expect(result.verdict == .protocolError, "\(result.detail)")
    #expect(result.conclusion == .speaksImplicitTLS(port: server.port))
    #expect(seconds < 5, "took \(seconds) s: \(result.detail)")
    #expect(result.probes.count == 1 && result.probes[0].method == .tlsHandshake && result.probes[0].answer == .implicitTLS)
    let text = hint(for: result, provider: nil, account: "work", user: user).text
    #expect(text.contains("port \(server.port) speaks implicit TLS"), "\(text)")
    #expect(text.contains("`mailcred add work --replace --user \(user) --\(proto.rawValue) 127.0.0.1:\(server.port) --\(proto.rawValue)-security tls`"), "\(text)")
    try await expectNothingSecretReceived([server])
  }

  @Test(arguments: MailProtocol.allCases)
  func tlsStoredOnAStarttlsPortSaysItSpeaksStarttls(proto: MailProtocol) async throws {
    let server = try clearGreeting(proto)
    let endpoint = Endpoint(proto: proto, host: "127.0.0.1", port: server.port, security: .tls)
    let (result, seconds) = await run(endpoint)
    #expect(result.verdict == .tlsFailed, "\(result.detail)")
    #expect(result.conclusion == .speaksSTARTTLS(port: server.port), "\(result.detail)")
    #expect(result.probes.first?.greeting?.isEmpty == false)
    // Tens of milliseconds here; the bound only has to tell it from the 15 s timeout, with room for the
    // test process's cooperative pool being held by the integration suites' blocking child processes.
    #expect(seconds < 8)
    let text = hint(for: result, provider: nil, account: "work", user: user).text
    #expect(text.contains("port \(server.port) speaks STARTTLS"), "\(text)")
    #expect(text.contains("--\(proto.rawValue)-security starttls`"), "\(text)")
    try await expectNothingSecretReceived([server])
  }

  /// A STARTTLS server that greets late (after the probe has started) is still checked on the first
  /// connection, and its greeting ends the probe: a slow server costs no more than it did before.
  @Test func slowGreetingStillGetsTheRealCheck() async throws {
    let server = try ScriptedServer { c in
      usleep(2_600_000)
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["AUTH PLAIN LOGIN"])
      c.drain()
    }
    let (result, seconds) = await run(smtp(server.port), timeout: 8)
    #expect(result.verdict == .starttlsMissing, "\(result.detail)")
    #expect(result.probes.isEmpty, "\(result.probes)")
    #expect(result.conclusion == nil)
    #expect(seconds < 5, "a probe that waited for its own late greeting would take ~5.7 s")
    try await expectNothingSecretReceived([server])
  }

  /// A server that accepts and never speaks, in clear or in TLS: the probe says so, and the check still ends
  /// on its deadline with the greeting it waited for.
  @Test func silentServerEndsOnTheDeadline() async throws {
    let server = try ScriptedServer { c in c.drain() }
    let (result, seconds) = await run(smtp(server.port), timeout: 6)
    #expect(result.verdict == .timeout, "\(result.detail)")
    #expect(result.detail.contains("greeting"))
    #expect(result.probes.first?.answer == .silent, "\(result.probes)")
    #expect(seconds < 7)
    #expect(hint(for: result, provider: nil).text.contains("does not speak implicit TLS either"))
  }

  // MARK: A blocked port and its alternative (root binds 587/465/993/143 on 127.0.0.3x: no clash with others)

  @Test func blocked587With465AnsweringSaysUseIt() async throws {
    let host = "127.0.0.31"
    let blocked = try BlockedPort(host: host, port: 587)
    let answering = try implicitTLS(.smtp, host: host, port: 465)
    let (result, seconds) = await run(smtp(587, host: host), timeout: 4)
    #expect(result.verdict == .timeout, "\(result.detail)")
    #expect(result.conclusion == .alternativeAnswers(blocked: 587, refused: false, answering: 465, security: .tls), "\(result.detail)")
    #expect(seconds < 4.5, "2 s for 587, then 465 at once")
    let text = hint(for: result, provider: nil, account: "work", user: user).text
    #expect(text.hasPrefix("587 is blocked from this network; 465 answers — use it"), "\(text)")
    #expect(text.contains("--smtp \(host):465 --smtp-security tls"))
    try await expectNothingSecretReceived([answering])
    _ = blocked
  }

  @Test func refused587With465AnsweringSaysUseIt() async throws {
    let host = "127.0.0.33"
    let answering = try implicitTLS(.smtp, host: host, port: 465)
    let (result, seconds) = await run(smtp(587, host: host))
    #expect(result.verdict == .refused, "\(result.detail)")
    #expect(result.conclusion == .alternativeAnswers(blocked: 587, refused: true, answering: 465, security: .tls))
    #expect(seconds < 2)
    #expect(hint(for: result, provider: nil).text.contains("587 refuses connections from here; 465 answers — use it"))
    try await expectNothingSecretReceived([answering])
  }

  @Test func both587And465BlockedMeansFiltered() async throws {
    let host = "127.0.0.32"
    let blocked = (try BlockedPort(host: host, port: 587), try BlockedPort(host: host, port: 465))
    let (result, seconds) = await run(smtp(587, host: host), timeout: 3)
    #expect(result.verdict == .timeout)
    #expect(result.conclusion == .bothBlocked(587, 465, refused: false), "\(result.detail)")
    #expect(seconds < 4.5, "the 3 s deadline, plus slack for a loaded machine")
    #expect(hint(for: result, provider: nil).text.hasPrefix("587 and 465 both blocked: outbound mail is filtered here"))
    _ = blocked
  }

  @Test func blocked993With143AnsweringSaysUseIt() async throws {
    let host = "127.0.0.34"
    let blocked = try BlockedPort(host: host, port: 993)
    let answering = try clearGreeting(.imap, host: host, port: 143)
    let endpoint = Endpoint(proto: .imap, host: host, port: 993, security: .tls)
    let (result, seconds) = await run(endpoint, timeout: 4)
    #expect(result.verdict == .timeout, "\(result.detail)")
    #expect(result.conclusion == .alternativeAnswers(blocked: 993, refused: false, answering: 143, security: .starttls))
    #expect(seconds < 4.5)
    let text = hint(for: result, provider: nil, account: "work", user: user).text
    #expect(text.hasPrefix("993 is blocked from this network; 143 answers — use it"), "\(text)")
    #expect(text.contains("--imap \(host):143 --imap-security starttls"))
    try await expectNothingSecretReceived([answering])
    _ = blocked
  }

  @Test func both993And143BlockedMeansFiltered() async throws {
    let host = "127.0.0.35"
    let blocked = (try BlockedPort(host: host, port: 993), try BlockedPort(host: host, port: 143))
    let (result, _) = await run(Endpoint(proto: .imap, host: host, port: 993, security: .tls), timeout: 3)
    #expect(result.verdict == .timeout)
    #expect(result.conclusion == .bothBlocked(993, 143, refused: false))
    #expect(hint(for: result, provider: nil).text.hasPrefix("993 and 143 both blocked: IMAP is filtered on this network"))
    _ = blocked
  }

  /// A port with no standard alternative keeps its whole deadline for the connect, and nothing is probed.
  @Test func unusualPortIsNotProbed() async throws {
    let host = "127.0.0.36"
    let blocked = try BlockedPort(host: host, port: 2525)
    let (result, seconds) = await run(smtp(2525, host: host), timeout: 2)
    #expect(result.verdict == .timeout)
    #expect(result.probes.isEmpty)
    #expect(seconds >= 1.9)
    _ = blocked
  }
}

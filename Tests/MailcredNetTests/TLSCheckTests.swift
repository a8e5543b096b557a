import MailcredCore
import Testing
@testable import MailcredNet

/// Certificate and host-name verification against a server using a throwaway CA.
@Suite(.timeLimit(.minutes(1))) struct TLSCheckTests {
  let pki: TestPKI

  init() throws { pki = try TestPKI.shared.get() }

  /// Implicit-TLS SMTP that accepts any credential.
  func implicitTLSServer(_ certificate: TLSServerContext) throws -> ScriptedServer {
    try ScriptedServer { c in
      guard c.acceptTLS(certificate) else { return }
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["AUTH PLAIN"])
      _ = c.readLine()
      c.send("235 2.7.0 Authentication successful\r\n")
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
  }

  @Test func unknownCAIsATLSFailure() async throws {
    let server = try implicitTLSServer(pki.good)
    let result = await check(smtp(server.port, .tls, host: "localhost"))
    #expect(result.verdict == .tlsFailed)
    #expect(result.detail.contains("certificate"))
    #expect(await !server.settled.contains { $0.hasPrefix("AUTH") })
  }

  @Test func wrongHostNameIsATLSFailure() async throws {
    let server = try implicitTLSServer(pki.wrong)
    let result = await check(smtp(server.port, .tls, host: "localhost"), caFile: pki.caFile)
    #expect(result.verdict == .tlsFailed)
    #expect(result.detail.contains("hostname mismatch"))
    #expect(await !server.settled.contains { $0.hasPrefix("AUTH") })
  }

  @Test(arguments: ["localhost", "127.0.0.1"])
  func rightCAFileIsOK(host: String) async throws {
    let server = try implicitTLSServer(pki.good)
    let result = await check(smtp(server.port, .tls, host: host), caFile: pki.caFile)
    #expect(result.verdict == .ok, "\(result.detail)")
    #expect(server.received.contains("AUTH PLAIN \(plainIR)"))
  }

  @Test func missingCAFileIsATLSFailure() async throws {
    let result = await check(smtp(1, .tls), caFile: pki.directory + "/absent.pem")
    #expect(result.verdict == .tlsFailed)
    #expect(result.detail.contains("absent.pem"))
  }

  @Test func plainTextServerOnATLSPort() async throws {
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.drain()
    }
    let result = await check(smtp(server.port, .tls, host: "localhost"), caFile: pki.caFile)
    #expect(result.verdict == .tlsFailed, "\(result.detail)")
  }

  @Test func smtpStarttlsEndToEnd() async throws {
    let pki = self.pki
    let server = try ScriptedServer { c in
      c.send("220 mx.test ESMTP\r\n")
      c.answerEHLO(["STARTTLS"])
      _ = c.readLine()
      c.send("220 2.0.0 Ready to start TLS\r\n")
      guard c.acceptTLS(pki.good) else { return }
      c.answerEHLO(["AUTH LOGIN"])
      _ = c.readLine()
      c.send("334 VXNlcm5hbWU6\r\n")
      _ = c.readLine()
      c.send("334 UGFzc3dvcmQ6\r\n")
      _ = c.readLine()
      c.send("535 5.7.8 Authentication failed.\r\n")
      c.drain(until: { $0 == "QUIT" })
      c.send("221 Bye\r\n")
    }
    let result = await check(smtp(server.port, .starttls, host: "localhost"), caFile: pki.caFile)
    #expect(result.verdict == .rejected, "\(result.detail)")
    #expect(result.detail == "535 5.7.8 Authentication failed.")
    #expect(server.received.contains("czNjcmV0IQ=="))
  }

  @Test func imapStarttlsEndToEnd() async throws {
    let pki = self.pki
    let server = try ScriptedServer { c in
      c.send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n")
      _ = c.readLine()
      c.send("A1 OK Begin TLS negotiation now.\r\n")
      guard c.acceptTLS(pki.good) else { return }
      _ = c.readLine()
      c.send("* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nA2 OK done\r\n")
      _ = c.readLine()
      c.send("A3 OK [CAPABILITY IMAP4rev1] Logged in\r\n")
      c.drain(until: { $0.hasSuffix("LOGOUT") })
      c.send("* BYE Logging out\r\nA4 OK Logout completed.\r\n")
    }
    let endpoint = Endpoint(proto: .imap, host: "localhost", port: server.port, security: .starttls)
    let result = await check(endpoint, caFile: pki.caFile)
    #expect(result.verdict == .ok, "\(result.detail)")
    #expect(server.received == ["A1 STARTTLS", "A2 CAPABILITY", "A3 AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHMzY3JldCE=", "A4 LOGOUT"])
  }

  @Test func imapStarttlsInjectionIsRefused() async throws {
    let server = try ScriptedServer { c in
      c.send("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
      _ = c.readLine()
      c.send("A1 OK Begin TLS negotiation now.\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
      c.drain()
    }
    let endpoint = Endpoint(proto: .imap, host: "localhost", port: server.port, security: .starttls)
    let result = await check(endpoint, caFile: pki.caFile)
    #expect(result.verdict == .protocolError)
    #expect(result.detail.contains("unencrypted"))
  }
}

import Testing

@testable import MailcredCore

@Suite struct EndpointTests {
  @Test(arguments: [
    ("smtp.example.com", MailProtocol.smtp, nil, "smtp.example.com", 587, TransportSecurity.starttls),
    ("smtp.example.com:465", .smtp, nil, "smtp.example.com", 465, .tls),
    ("smtp.example.com", .smtp, .tls, "smtp.example.com", 465, .tls),
    ("smtp.example.com:2525", .smtp, nil, "smtp.example.com", 2525, .starttls),
    ("imap.example.com", .imap, nil, "imap.example.com", 993, .tls),
    ("imap.example.com:143", .imap, nil, "imap.example.com", 143, .starttls),
    ("[::1]:1025", .smtp, nil, "::1", 1025, .starttls),
    ("::1", .imap, .starttls, "::1", 143, .starttls),
  ] as [(String, MailProtocol, TransportSecurity?, String, Int, TransportSecurity)])
  func securityFollowsThePort(text: String, proto: MailProtocol, security: TransportSecurity?, host: String, port: Int, expected: TransportSecurity) throws {
    let endpoint = try Endpoint.parse(text, proto: proto, security: security)
    #expect(endpoint.host == host)
    #expect(endpoint.port == port)
    #expect(endpoint.security == expected)
  }

  @Test(arguments: ["", "host:0", "host:70000", "host:abc", "host:", "bad host", "[::1", "host/evil", "a\nb", "x:１"])
  func rejectsBadHostsAndPorts(text: String) {
    #expect(throws: InputError.self) { try Endpoint.parse(text, proto: .smtp, security: nil) }
  }

  @Test(arguments: ["", String(repeating: "a", count: 129), "a/b", "with space", "-flag", "new\nline"])
  func rejectsBadAccountNames(name: String) {
    #expect(throws: InputError.self) { try validateAccountName(name) }
  }

  @Test func credentialRoundTripsThroughAttributes() throws {
    let created = try #require(RFC3339.parse("2026-11-30T10:00:00Z"))
    let credential = Credential(
      account: "work", kind: .appPassword, user: "me@example.com",
      smtp: Endpoint(proto: .smtp, host: "smtp.example.com", port: 587, security: .starttls),
      imap: Endpoint(proto: .imap, host: "imap.example.com", port: 993, security: .tls), provider: "gmail",
      created: created, expires: created.addingTimeInterval(86400), state: .pending, checked: created,
      checkResult: "ok")
    let attributes = credential.attributes
    #expect(attributes["host"] == "smtp.example.com")
    #expect(attributes["service"] == nil, "msmtp's lookup must not find a pending secret")
    #expect(attributes["user"] == "me@example.com")
    #expect(Credential(attributes: attributes) == credential)
    var current = credential
    current.state = .current
    #expect(current.attributes["service"] == "smtp")
    #expect(Credential(attributes: current.attributes) == current)
    try SchemaAttribute.validate(attributes)
  }
}

@Suite struct LoopbackTests {
  @Test(arguments: [("127.0.0.1", true), ("127.1.2.3", true), ("localhost", true), ("::1", true),
    ("127.evil.example", false), ("127.0.0.256", false), ("128.0.0.1", false), ("example.com", false), ("127.0.0", false)])
  func onlyRealLoopbackAddressesCount(host: String, expected: Bool) {
    #expect(Endpoint(proto: .smtp, host: host, port: 25, security: .plain).isLoopback == expected)
  }
}

import Foundation
import Testing

@testable import MailcredCore

/// Property-based fuzzing with a fixed seed (reproducible in CI): random and mutated input to the git
/// credential codec, the git helper and the SMTP/IMAP exchanges. No crash, bounded work, and the
/// security properties hold for every input. `scripts/fuzz` runs libFuzzer on the same targets for longer.
@Suite struct FuzzTests {
  /// SplitMix64: small, fast, and the same sequence on every machine.
  struct Random: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  static let smtpCorpus = [
    "220 mail.example.com ESMTP ready", "220-first", "220 second", "250-mail.example.com", "250-STARTTLS",
    "250-AUTH PLAIN LOGIN", "250-AUTH=LOGIN", "250 8BITMIME", "250 AUTH XOAUTH2", "220 2.0.0 Ready to start TLS",
    "334 ", "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful",
    "535 5.7.8 Authentication credentials invalid", "534-5.7.9 Application-specific password required",
    "535 5.7.139 Authentication unsuccessful, basic authentication is disabled", "454 4.7.0 Temporary failure",
    "421 4.3.2 Service not available", "530 5.7.0 Must issue a STARTTLS command first", "221 2.0.0 Bye",
    "550 5.7.30 Basic authentication is not supported for Client Submission", "", "garbage", "9999 x",
  ]
  static let imapCorpus = [
    "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready", "* OK ready", "* PREAUTH hi", "* BYE go away",
    "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED", "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR", "A1 OK done",
    "A2 OK Begin TLS", "A1 NO [AUTHENTICATIONFAILED] Authentication failed.", "A3 NO [UNAVAILABLE] later",
    "+ ", "+ VXNlcm5hbWU6", "A1 BAD what", "A4 OK Logged in", "* 3 EXISTS", "", "garbage", "A9 OK",
  ]

  static func mutate(_ line: String, _ random: inout Random) -> [UInt8] {
    var bytes = Array(line.utf8)
    switch random.next() % 6 {
    case 0: return bytes
    case 1: return (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    case 2: if !bytes.isEmpty { bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next()) }
    case 3: bytes += Array(repeating: UInt8(ascii: "A"), count: Int(random.next() % 3000))
    case 4: if !bytes.isEmpty { bytes.removeLast(Int(random.next() % UInt64(bytes.count))) }
    default: bytes.insert(contentsOf: [0, 0x0d, 0xff], at: bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count)))
    }
    return bytes
  }

  /// Drives an exchange with fuzzed server lines and checks: it finishes within a bounded number of
  /// steps, never sends the secret before TLS when STARTTLS is required, and never puts the secret in a
  /// verdict's detail.
  func drive<E: AuthExchange>(_ exchange: inout E, corpus: [String], security: TransportSecurity, secret: String, random: inout Random) {
    var tls = security == .tls
    var sentSecretInClear = false
    for _ in 0..<60 {
      var step = exchange.receive(Self.mutate(corpus[Int(random.next() % UInt64(corpus.count))], &random))
      while true {
        switch step {
        case .startTLS:
          tls = true
          step = exchange.tlsEstablished()
          continue
        case .sendSecret:
          if !tls && security != .plain { sentSecretInClear = true }
        case .finished(_, let detail, _):
          #expect(!detail.contains(secret), "verdict detail holds the secret")
          #expect(!sentSecretInClear, "secret sent before TLS")
          return
        case .readLine, .send: break
        }
        break
      }
    }
    #expect(!sentSecretInClear, "secret sent before TLS")
  }

  @Test func smtpExchangeSurvivesFuzzedServers() {
    var random = Random(state: 0x5EED_0001)
    let secret = "fuzz-secret-\(UInt32.random(in: 1000...9999))"
    for round in 0..<3000 {
      let security: TransportSecurity = [.starttls, .tls, .plain][round % 3]
      var exchange = SMTPAuthExchange(user: "u@example.com", secret: SecretBytes(taking: Array(secret.utf8)), security: security, clientName: "[127.0.0.1]")
      drive(&exchange, corpus: Self.smtpCorpus, security: security, secret: secret, random: &random)
      let (_, detail) = exchange.verdictOnClose()
      #expect(!detail.contains(secret))
    }
  }

  @Test func imapExchangeSurvivesFuzzedServers() {
    var random = Random(state: 0x5EED_0002)
    let secret = "fuzz-secret-\(UInt32.random(in: 1000...9999))"
    for round in 0..<3000 {
      let security: TransportSecurity = [.starttls, .tls, .plain][round % 3]
      var exchange = IMAPAuthExchange(user: "u@example.com", secret: SecretBytes(taking: Array(secret.utf8)), security: security)
      drive(&exchange, corpus: Self.imapCorpus, security: security, secret: secret, random: &random)
    }
  }

  @Test func smtpRepliesClassifyWithoutCrashing() {
    var random = Random(state: 0x5EED_0003)
    for _ in 0..<5000 {
      let lines = (0..<Int(random.next() % 4 + 1)).map { _ in
        String(decoding: Self.mutate(Self.smtpCorpus[Int(random.next() % UInt64(Self.smtpCorpus.count))], &random), as: UTF8.self)
      }
      let code = Int(random.next() % 700)
      _ = classifySMTPAuthReply(SMTPReply(code: code, lines: lines))
    }
  }

  @Test func gitCodecNeverCrashesAndRoundTrips() throws {
    var random = Random(state: 0x5EED_0004)
    let keys = ["protocol", "host", "path", "username", "password", "url", "capability[]", "wwwauth[]", "x", ""]
    for _ in 0..<5000 {
      var input: [UInt8] = []
      for _ in 0..<Int(random.next() % 8) {
        let key = keys[Int(random.next() % UInt64(keys.count))]
        input += Self.mutate("\(key)=v\(random.next() % 100)", &random) + [0x0a]
      }
      guard let message = try? GitCredentialMessage.parse(input) else { continue }
      let out = message.serialized()
      // Every emitted line is key=value with no control character inside.
      for line in out.bytes.split(separator: 0x0a) {
        #expect(line.contains(UInt8(ascii: "=")))
        #expect(!line.contains(0) && !line.contains(0x0d))
      }
      let again = try GitCredentialMessage.parse(out.bytes)
      #expect(again.serialized() == out)
    }
  }

  @Test func gitHelperNeverAnswersWithAnotherAccountsSecret() throws {
    let keyring = InMemoryKeyring()
    let store = CredentialStore(keyring: keyring)
    let created = Date(timeIntervalSince1970: 1_790_000_000)
    for (account, host, user) in [("a", "a.example", "alice"), ("b", "b.example", "bob")] {
      try store.add(
        Credential(account: account, kind: .password, user: user, smtp: Endpoint(proto: .smtp, host: host, port: 587, security: .starttls), created: created),
        secret: SecretBytes(taking: Array("secret-of-\(account)".utf8)), replace: false)
    }
    let helper = GitCredentialHelper(store: store)
    var random = Random(state: 0x5EED_0005)
    let protocols = ["smtp", "smtps", "imap", "https", "", "SMTP", "submission"]
    let hosts = ["a.example", "b.example", "a.example:587", "b.example:465", "c.example", "", "a.example.evil", "B.EXAMPLE"]
    let users = ["alice", "bob", "", "mallory", "alice\r"]
    for _ in 0..<3000 {
      let host = hosts[Int(random.next() % UInt64(hosts.count))]
      let text = "protocol=\(protocols[Int(random.next() % UInt64(protocols.count))])\nhost=\(host)\nusername=\(users[Int(random.next() % UInt64(users.count))])\n\n"
      guard let request = try? GitCredentialMessage.parse(Array(text.utf8)),
        let (reply, secret) = try helper.get(request)
      else { continue }
      let answered = String(decoding: secret.bytes, as: UTF8.self)
      let lowered = (request.host ?? "").lowercased()
      if answered == "secret-of-b" {
        #expect(lowered.hasPrefix("b.example") && !lowered.hasPrefix("b.example."), "b's secret for \(text)")
        #expect(reply.username == "bob")
      } else {
        #expect(answered == "secret-of-a")
        #expect(lowered.hasPrefix("a.example") && !lowered.hasPrefix("a.example."), "a's secret for \(text)")
        #expect(reply.username == "alice")
      }
    }
  }
}

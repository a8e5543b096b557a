import Foundation
import Testing

extension RealKeyringTests.ClientConfigTests {
  /// scripts/harness/port-pair.py: standard ports on spare loopback addresses (127.0.0.4x; the Net probe tests
  /// use .31–.36), never-accepting or relaying to the harness Dovecot. Ends when its stdin closes.
  struct PortPairFailed: Error {}

  final class PortPair {
    let process = Process()
    let input = Pipe()

    init(_ arguments: [String]) throws {
      process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
      process.arguments = [Harness.scripts + "/harness/port-pair.py"] + arguments
      let output = Pipe()
      process.standardInput = input
      process.standardOutput = output
      try process.run()
      // One line, "ready", once every socket is set up (or EOF when it failed).
      let line = output.fileHandleForReading.readData(ofLength: 6)
      guard String(decoding: line, as: UTF8.self) == "ready\n" else {
        process.terminate()
        throw PortPairFailed()
      }
    }

    deinit {
      try? input.fileHandleForWriting.close()
      process.waitUntilExit()
    }
  }

  /// `doctor --check` against the real Dovecot: a blocked 587 beside an answering 465 (and IMAP's 993/143),
  /// both blocked, a port that speaks implicit TLS to a STARTTLS account, and a real AUTH for the account
  /// whose credential is stored. Probes send no AUTH: Dovecot logs one login only, the live check's.
  @Test func doctorCheckTellsABlockedPortFromAWrongOneAndChecksTheStoredCredential() throws {
    let ws = try ClientWorkspace("doctor-check")
    let (user, password) = try clients.mailUser("doctor-check")
    let stored = Harness.uniqueName("dc")
    try clients.add(ws, stored, user: user, secret: password)
    defer { _ = try? mailcred(ws, ["remove", stored, "--yes"]) }
    let pair = try PortPair([
      "--blocked", "127.0.0.41:587", "--forward", "127.0.0.41:465=127.0.0.1:\(Harness.submissionsPort)",
      "--blocked", "127.0.0.42:993", "--forward", "127.0.0.42:143=127.0.0.1:\(Harness.imapPort)",
      "--blocked", "127.0.0.43:587", "--blocked", "127.0.0.43:465",
    ])
    defer { _ = pair }
    func account(_ name: String, host: String, port: Int, starttls: Bool, get: String) -> String {
      "account \(name)\nhost \(host)\nport \(port)\ntls on\ntls_starttls \(starttls ? "on" : "off")\ntls_trust_file \(Harness.caFile)\n"
        + "auth on\nuser \(user)\nfrom \(user)\npasswordeval \"mailcred get \(get)\"\n\n"
    }
    let rc = try ws.write(".msmtprc",
      account("blocked", host: "127.0.0.41", port: 587, starttls: true, get: stored)
      + account("filtered", host: "127.0.0.43", port: 587, starttls: true, get: stored + "-none")
      + account("wrongtls", host: "127.0.0.1", port: Harness.submissionsPort, starttls: true, get: stored + "-none")
      + account("live", host: "127.0.0.1", port: Harness.submissionPort, starttls: true, get: stored))
    let mbsyncrc = try ws.write(".mbsyncrc", "IMAPAccount m\nHost 127.0.0.42\nPort 993\nUser \(user)\nPassCmd \"mailcred get \(stored)-none\"\nSSLType IMAPS\n")

    let plain = try mailcred(ws, ["doctor", "msmtp", "mbsync"])
    #expect(!plain.stdout.contains("blocked from here"), "doctor without --check tried the network: \(plain.stdout)")

    let log = Mail.DovecotLog()
    let started = Date()
    let checked = try mailcred(ws, ["doctor", "msmtp", "mbsync", "--check", "--timeout", "4"])
    let seconds = Date().timeIntervalSince(started)
    #expect(checked.status == 78, "\(checked.stdout) \(checked.stderr)")
    let out = checked.stdout
    // The stored credential named by `blocked` is checked for real: its 587 times out, the check's own probe
    // finds 465 answering.
    #expect(out.contains("\(rc):3: error: 587 is blocked from here (no connection within "), "\(out)")
    #expect(out.contains(" s); 465 answers (speaks implicit TLS) — use `port 465` + `tls_starttls off` [msmtp blocked]\n    write instead: port 465"), "\(out)")
    #expect(out.contains("\(rc):14: error: 587 and 465 are both blocked from here"), "\(out)")
    #expect(out.contains("outbound mail is filtered on this network"))
    #expect(out.contains("\(rc):27: error: 127.0.0.1 port \(Harness.submissionsPort) speaks implicit TLS, but the account uses STARTTLS [msmtp wrongtls]\n    write instead: tls_starttls off"), "\(out)")
    #expect(out.contains("\(rc):34: info: 127.0.0.1:\(Harness.submissionPort): \(stored) authenticated from here"), "\(out)")
    #expect(out.contains("\(mbsyncrc):3: error: 993 is blocked from here (no connection within "), "\(out)")
    #expect(out.contains(" s); 143 answers (greets in clear: STARTTLS) — use `Port 143` + `SSLType STARTTLS` [mbsync m]\n    write instead: Port 143"), "\(out)")
    #expect(seconds < 10, "every probe runs at once within --timeout 4 (took \(seconds) s)")
    expectNoLeak(checked, "doctor --check")
    let lines = log.newLines()
    let logins = lines.components(separatedBy: "\n").filter { $0.contains("Login: user=<") }
    #expect(logins.count == 1 && logins.first?.contains("user=<\(user)>, method=PLAIN") == true, "only the live check authenticates: \(logins)")
    #expect(!lines.contains("auth failed"), "\(lines)")
  }
}

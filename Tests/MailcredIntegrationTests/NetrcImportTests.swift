import Foundation
import Testing

extension RealKeyringTests.ClientConfigTests {
  /// `import ~/.netrc`: msmtp without a password line reads ~/.netrc; after import only the `password`
  /// pair is gone, and msmtp finds the password through its keyring lookup (mailcred's host/service/user
  /// item) instead. Another program's entry (github.com) and `default` stay byte for byte. An .authinfo
  /// entry's `port` is the stored endpoint's.
  @Test func netrcImportRemovesOnlyThePasswordAndMsmtpStillSends() throws {
    let ws = try ClientWorkspace("import-netrc")
    let (user, password) = try clients.mailUser("import-netrc")
    let (other, otherPassword) = try clients.mailUser("import-authinfo")
    defer { for name in [user, other] { _ = try? mailcred(ws, ["remove", name, "--yes"]) } }
    let netrcText = "machine github.com login me password ghp_not-mail\nmachine 127.0.0.1\n  login \(user)\n  password \"\(password)\"\ndefault login anonymous password guest\n"
    let netrc = try ws.write(".netrc", netrcText)
    let authinfoText = "machine 127.0.0.1 login \(other) port \(Harness.submissionPort) password \(otherPassword)\n"
    let authinfo = try ws.write(".authinfo", authinfoText)
    _ = try ws.write(".msmtprc", "account default\nhost 127.0.0.1\nport \(Harness.submissionPort)\ntls on\ntls_trust_file \(Harness.caFile)\nauth on\nuser \(user)\nfrom \(user)\n")
    func send(_ what: String) throws {
      let marker = Mail.marker(what)
      let sent = try ws.run("/usr/bin/msmtp", ["--", "rcpt@example.test"], stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker))
      #expect(sent.status == 0, "msmtp (\(what)): \(sent.stderr)")
      #expect(Mail.delivered(marker) != nil, "msmtp (\(what)): the message never reached the sink")
    }
    try send("netrc-before")

    let doctor = try mailcred(ws, ["doctor", "netrc"])
    #expect(doctor.stdout.contains("\(netrc):4: error: plaintext password for \(user) on 127.0.0.1: `mailcred import \(netrc)` stores it"), "\(doctor.stdout)")
    let dry = try mailcred(ws, ["import", netrc, authinfo, "--dry-run"])
    #expect(dry.stdout.contains("\(netrc):4: would store \(user) (\(user) on 127.0.0.1:1025)"), "\(dry.stdout)")
    #expect(String(decoding: bytes(netrc), as: UTF8.self) == netrcText)

    // 127.0.0.1 without a port is Proton Mail Bridge's preset (1025), where nothing answers here: --no-check.
    let imported = try mailcred(ws, ["import", netrc, authinfo, "--timeout", "10", "--ca-file", Harness.caFile, "--no-check"])
    #expect(imported.status == 0, "import: \(imported.stdout) \(imported.stderr)")
    #expect(String(decoding: bytes(netrc), as: UTF8.self) == "machine github.com login me password ghp_not-mail\nmachine 127.0.0.1\n  login \(user)\n\ndefault login anonymous password guest\n")
    #expect(String(decoding: bytes(authinfo), as: UTF8.self) == "machine 127.0.0.1 login \(other) port \(Harness.submissionPort)\n")
    #expect(filesHolding(password, in: ws).isEmpty && filesHolding(otherPassword, in: ws).isEmpty)
    #expect(try ws.mailcred(["get", user]).stdout == password + "\n")
    let checked = try ws.mailcred(["check", other, "--ca-file", Harness.caFile])
    #expect(checked.status == 0, "the authinfo port is the stored one: \(checked.stdout) \(checked.stderr)")
    try send("netrc-after")

    let again = try mailcred(ws, ["import", netrc, authinfo])
    #expect(again.status == 0)
    #expect(again.stderr.contains("no mail server's password to import"))
    #expect(try mailcred(ws, ["doctor", "netrc"]).status == 0)
    #expect(try mailcred(ws, ["import", "--undo"]).status == 0)
    #expect(String(decoding: bytes(netrc), as: UTF8.self) == netrcText, "--undo did not put ~/.netrc back")
    #expect(String(decoding: bytes(authinfo), as: UTF8.self) == authinfoText)
    for path in [netrc, authinfo] { try FileManager.default.removeItem(atPath: path) }  // hold the secrets again, by design
  }
}

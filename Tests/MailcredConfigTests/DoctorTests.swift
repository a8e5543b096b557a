import Foundation
import MailcredConfig
import MailcredCore
import MailcredSpelling
import Testing

/// Every finding the doctor makes, asserted on fixture files: code, line and the exact line to write.
@Suite struct DoctorTests {
  static let now = RFC3339.parse("2026-12-01T00:00:00Z")!

  func credential(_ account: String, user: String, smtp: String? = nil, imap: String? = nil, expires: String? = nil, check: String? = nil, kind: CredentialKind = .appPassword) -> Credential {
    Credential(
      account: account, kind: kind, user: user,
      smtp: smtp.map { Endpoint(proto: .smtp, host: $0, port: 587, security: .starttls) },
      imap: imap.map { Endpoint(proto: .imap, host: $0, port: 993, security: .tls) },
      created: RFC3339.parse("2026-01-01T00:00:00Z")!, expires: expires.flatMap(RFC3339.parse), checkResult: check)
  }

  struct Expected: Equatable, CustomStringConvertible {
    var line: Int?
    var code: String
    var severity: Finding.Severity
    var fix: String?
    var action: Finding.FixAction?
    var description: String { "\(line ?? 0) \(code) \(severity) \(fix ?? "-") \(action?.rawValue ?? "")" }
  }

  func expected(_ findings: [Finding]) -> [Expected] {
    findings.map { Expected(line: $0.line, code: $0.code, severity: $0.severity, fix: $0.fix, action: $0.fixAction) }
  }

  @Test func msmtpFixtureEveryFindingWithItsLineAndFix() throws {
    let file = try Fixture.file("msmtprc")
    let context = DoctorContext(
      credentials: [credential("home", user: "someone-else@outlook.com", smtp: "smtp-mail.outlook.com")],
      mbsyncVersion: nil, now: Self.now, files: ["msmtprc": .init(mode: 0o644, inGitWorkTree: true)], speller: CommandLineSpelling())
    let (accounts, findings) = Doctor.check(file, client: .msmtp, context: context)
    #expect(accounts.count == 5)
    let got = expected(findings)
    let want: [Expected] = [
      Expected(line: nil, code: "file-mode", severity: .error),
      Expected(line: nil, code: "file-in-git", severity: .error),
      Expected(line: 13, code: "plaintext-secret", severity: .error, fix: "passwordeval \"mailcred get work\"", action: .replace),
      // home: Outlook.com's retired host, 465 with STARTTLS, no OAuth2 (auth on is inherited from defaults).
      Expected(line: 19, code: "auth-method", severity: .error, fix: "auth xoauth2", action: .insertAfter),
      Expected(line: 20, code: "outdated-host", severity: .warning, fix: "host smtp-mail.outlook.com", action: .replace),
      Expected(line: 22, code: "port-security", severity: .error, fix: "tls_starttls off", action: .replace),
      Expected(line: 24, code: "user-mismatch", severity: .error),
      Expected(line: 24, code: "host-mismatch", severity: .warning),
      // lab: TLS off on a public host, and a plaintext password.
      Expected(line: 29, code: "tls-off", severity: .error, fix: "tls on", action: .replace),
      Expected(line: 31, code: "plaintext-secret", severity: .error, fix: "passwordeval \"mailcred get lab\"", action: .replace),
      // insecure: implicit TLS on 587, certificate checks off, a mailcred account that does not exist.
      Expected(line: 36, code: "port-security", severity: .error, fix: "tls_starttls on", action: .replace),
      Expected(line: 37, code: "certificate-check-off", severity: .error, fix: "tls_certcheck on", action: .replace),
      Expected(line: 39, code: "missing-credential", severity: .error),
    ]
    #expect(got == want)
    // A finding never quotes the secret.
    for finding in findings { #expect(!finding.text.contains("abcd efgh") && !finding.text.contains("s3cret")) }
  }

  @Test func mbsyncFixtureFindingsForIsync1_4() throws {
    let file = try Fixture.file("mbsyncrc")
    let context = DoctorContext(
      credentials: [credential("work-imap", user: "me@outlook.com", imap: "outlook.office365.com", expires: "2026-11-01T00:00:00Z", check: "rejected")],
      mbsyncVersion: (1, 4), now: Self.now, speller: CommandLineSpelling())
    let got = expected(Doctor.check(file, client: .mbsync, context: context).findings)
    let want: [Expected] = [
      Expected(line: 5, code: "plaintext-secret", severity: .error, fix: "PassCmd \"mailcred get personal\"", action: .replace),
      // work: an Outlook.com address on the shared Microsoft IMAP host, 993 with STARTTLS, a stored
      // credential that expired and was last rejected.
      Expected(line: 16, code: "credential-expired", severity: .error),
      Expected(line: 16, code: "credential-rejected", severity: .error),
      Expected(line: 17, code: "port-security", severity: .error, fix: "SSLType IMAPS", action: .replace),
      Expected(line: 18, code: "auth-method", severity: .error, fix: "AuthMechs XOAUTH2", action: .replace),
      Expected(line: 27, code: "plaintext-secret", severity: .error, fix: "PassCmd \"mailcred get inline\"", action: .replace),
      Expected(line: 28, code: "tls-off", severity: .error, fix: "SSLType STARTTLS", action: .replace),
    ]
    #expect(got == want)
  }

  @Test func mbsyncOptionSpellingAgainstTheInstalledVersion() throws {
    let old = try Fixture.literal("IMAPAccount a\nHost imap.gmail.com\nUser u\nPassCmd \"mailcred get a\"\n  TLSType IMAPS\n")
    let refused = Doctor.check(old, client: .mbsync, context: DoctorContext(credentials: [credential("a", user: "u", imap: "imap.gmail.com")], mbsyncVersion: (1, 4), now: Self.now, speller: CommandLineSpelling()))
    #expect(expected(refused.findings) == [Expected(line: 5, code: "mbsync-option", severity: .error, fix: "  SSLType IMAPS", action: .replace)])
    let new = try Fixture.literal("IMAPAccount a\nHost imap.gmail.com\nUser u\nPassCmd \"mailcred get a\"\nSSLType IMAPS\n")
    let obsolete = Doctor.check(new, client: .mbsync, context: DoctorContext(credentials: [credential("a", user: "u", imap: "imap.gmail.com")], mbsyncVersion: (1, 5), now: Self.now, speller: CommandLineSpelling()))
    #expect(expected(obsolete.findings) == [Expected(line: 5, code: "mbsync-option", severity: .warning, fix: "TLSType IMAPS", action: .replace)])
  }

  @Test func syntaxProblemsAWhitespaceSecretAndAnOAuthCredentialOnAPasswordClient() throws {
    let broken = Doctor.check(try Fixture.file("mbsyncrc-broken"), client: .mbsync, context: DoctorContext(credentials: [], mbsyncVersion: (1, 4), now: Self.now, speller: CommandLineSpelling()))
    #expect(expected(broken.findings).map(\.code) == ["syntax", "plaintext-secret", "mbsync-option"])
    let crlf = Doctor.check(try Fixture.file("msmtprc-crlf"), client: .msmtp, context: DoctorContext(credentials: [], mbsyncVersion: nil, now: Self.now, speller: CommandLineSpelling()))
    #expect(expected(crlf.findings).contains(Expected(line: 6, code: "secret-whitespace", severity: .warning)))
    let oauth = try Fixture.literal("account o\nhost smtp.gmail.com\nport 587\ntls on\nuser u@gmail.com\npasswordeval \"mailcred get o\"\n")
    let found = Doctor.check(oauth, client: .msmtp, context: DoctorContext(credentials: [credential("o", user: "u@gmail.com", smtp: "smtp.gmail.com", kind: .oauth2)], mbsyncVersion: nil, now: Self.now, speller: CommandLineSpelling()))
    #expect(expected(found.findings) == [Expected(line: 6, code: "auth-method", severity: .error)])
  }

  @Test func theSharedMicrosoftHostIsOutlookComOnlyForPersonalAddresses() throws {
    let business = try Fixture.literal("IMAPAccount b\nHost outlook.office365.com\nUser me@contoso.example\nPassCmd \"mailcred get b\"\nSSLType IMAPS\n")
    let result = Doctor.check(business, client: .mbsync, context: DoctorContext(credentials: [credential("b", user: "me@contoso.example", imap: "outlook.office365.com")], mbsyncVersion: (1, 4), now: Self.now, speller: CommandLineSpelling()))
    #expect(result.findings.isEmpty)
  }

  @Test func neomuttFixtureFindingsAcrossTheSourcedFile() throws {
    let file = try Fixture.file("neomuttrc")
    let result = Doctor.check(file, client: .neomutt, context: DoctorContext(credentials: [], mbsyncVersion: nil, now: Self.now, speller: CommandLineSpelling()), loader: Fixture.loader)
    let got = result.findings.map { "\($0.path):\($0.line ?? 0) \($0.code) \($0.fix ?? "-")" }
    #expect(got == [
      "neomutt-secrets:2 plaintext-secret set imap_pass = \"`mailcred get me@example.com`\" # the IMAP password",
      "neomuttrc:4 port-security set smtp_url = \"smtp://me%40example.com@smtp.fastmail.com:587/\"",
      "neomuttrc:4 plaintext-secret set smtp_url = \"smtps://me%40example.com@smtp.fastmail.com:587/\"",
      "neomuttrc:9 certificate-check-off set ssl_verify_dates = yes",
    ])
    #expect(result.findings[2].message.hasSuffix("and add after it: set smtp_pass = \"`mailcred get me@example.com`\""))
  }

  @Test func importRewritesOnlyTheSecretsBytesAndUndoesTheURLPassword() throws {
    let file = try Fixture.file("neomuttrc")
    let items = ImportPlan.items(in: file, client: .neomutt, loader: Fixture.loader)
    #expect(items.map(\.name) == ["me@example.com", "me@example.com"])
    let rewritten = ImportPlan.rewrite(file, items: items)
    var expected = try String(contentsOfFile: Fixture.directory + "/neomuttrc", encoding: .utf8).components(separatedBy: "\n")
    expected[3] = "set smtp_url = \"smtps://me%40example.com@smtp.fastmail.com:587/\""
    expected.insert("set smtp_pass = \"`mailcred get me@example.com`\"", at: 4)
    #expect(String(decoding: rewritten.bytes, as: UTF8.self) == expected.joined(separator: "\n"))
    // The sourced file's item is rewritten in that file only.
    let secrets = try Fixture.file("neomutt-secrets")
    #expect(String(decoding: ImportPlan.rewrite(secrets, items: items).bytes, as: UTF8.self)
      == "set imap_user = 'me@example.com'\nset imap_pass = \"`mailcred get me@example.com`\" # the IMAP password\n")
    #expect(ImportPlan.items(in: rewritten, client: .neomutt).isEmpty)
  }

  @Test func aCleanAccountPointingAtMailcredHasNoFindings() throws {
    let file = try Fixture.literal("account ok\nhost smtp.gmail.com\nport 465\ntls on\ntls_starttls off\nuser u@gmail.com\npasswordeval \"mailcred get ok\"\n")
    let result = Doctor.check(file, client: .msmtp, context: DoctorContext(credentials: [credential("ok", user: "u@gmail.com", smtp: "smtp.gmail.com")], mbsyncVersion: nil, now: Self.now, speller: CommandLineSpelling()))
    #expect(result.findings.isEmpty)
  }
}

import Foundation
import MailcredConfig
import MailcredCore
import Testing

/// git send-email's settings as `git config --show-origin --get-regexp '^sendemail\.'` lists them for the
/// gitconfig fixture (checked against git 2.39.5), located in the fixture's lines.
@Suite struct GitSendemailTests {
  static let entries: [GitSendemailConfig.Entry] = [
    .init(key: "sendemail.smtpserver", value: "smtp.gmail.com", origin: "gitconfig"),
    .init(key: "sendemail.smtpserverport", value: "465", origin: "gitconfig"),
    .init(key: "sendemail.smtpencryption", value: "tls", origin: "gitconfig"),
    .init(key: "sendemail.smtpuser", value: "me@gmail.com", origin: "gitconfig"),
    .init(key: "sendemail.smtppass", value: nil, origin: "gitconfig"),
    .init(key: "sendemail.work.smtpserver", value: "smtp.live.com", origin: "gitconfig"),
    .init(key: "sendemail.work.smtpserverport", value: "587", origin: "gitconfig"),
    .init(key: "sendemail.work.smtpuser", value: "me@outlook.com", origin: "gitconfig"),
    .init(key: "sendemail.work.smtpsslcertpath", value: "", origin: "gitconfig"),
  ]

  @Test func identitiesInheritThePlainSectionAndEveryValueHasItsLine() throws {
    let file = try Fixture.file("gitconfig")
    let accounts = GitSendemailConfig(entries: Self.entries, files: ["gitconfig": file]).accounts
    #expect(accounts.map(\.name) == ["me@gmail.com", "work"])
    let base = accounts[0]
    #expect(base.host == Setting("smtp.gmail.com", path: "gitconfig", line: 4))
    #expect(base.port?.value == 465)
    #expect(base.security == .starttls)
    #expect(base.plaintext?.line == 8)
    // git's own reading of the line (quotes, an escaped quote, `;` and `#` inside quotes, a comment after).
    #expect(secretText(base, file) == "se\"c;r#et")
    let work = accounts[1]
    #expect(work.security == .starttls)
    #expect(work.host?.line == 10)
    #expect(work.certificateCheckOff?.line == 13)
    #expect(work.plaintext?.line == 8)
  }

  @Test func doctorFindingsWithLinesAndFixes() throws {
    let file = try Fixture.file("gitconfig")
    let accounts = GitSendemailConfig(entries: Self.entries, files: ["gitconfig": file]).accounts
    let findings = Doctor.check(accounts: accounts, files: ["gitconfig": file], context: DoctorContext(credentials: [], mbsyncVersion: nil, now: Date())).findings
    #expect(findings.map { "\($0.line ?? 0) \($0.code) \($0.fix ?? "-") \($0.fixAction?.rawValue ?? "")" } == [
      "6 port-security \tsmtpEncryption = ssl replace",
      "8 plaintext-secret \t# smtpPass: in mailcred now (git send-email asks credential.helper = mailcred) replace",
      "10 outdated-host \tsmtpServer = smtp-mail.outlook.com replace",
      "10 auth-method \tsmtpAuth = XOAUTH2 insert-after",
      "13 certificate-check-off \tsmtpSslCertPath = /etc/ssl/certs replace",
    ])
  }

  @Test func importReplacesTheSmtpPassLineAndAddsTheHelperSection() throws {
    let file = try Fixture.file("gitconfig")
    let accounts = GitSendemailConfig(entries: Self.entries, files: ["gitconfig": file]).accounts
    let items = ImportPlan.items(accounts: accounts, files: ["gitconfig": file])
    #expect(items.map(\.name) == ["me@gmail.com"])
    #expect(items[0].users == ["me@gmail.com", "work"])
    let text = String(decoding: ImportPlan.rewrite(file, items: items).bytes, as: UTF8.self)
    var lines = try String(contentsOfFile: Fixture.directory + "/gitconfig", encoding: .utf8).components(separatedBy: "\n")
    lines[7] = "\t# smtpPass: in mailcred now (git send-email asks credential.helper = mailcred)"
    #expect(text == lines.joined(separator: "\n") + "[credential \"smtp://smtp.gmail.com:465\"]\n\thelper = mailcred\n")
  }

  @Test(arguments: [
    ("\tkey = plain # c", "plain"), ("key=\"a b\" ", "a b"), ("key = a\\\\b", "a\\b"), ("key = \"x;y\";z", "x;y"), ("key = a\\tb", "a\tb"),
  ])
  func valuesDecodeAsGitDecodesThem(line: String, expected: String) {
    let bytes = Array(line.utf8)
    guard case .key(_, let range?) = GitSyntax.parse(bytes) else {
      Issue.record("not a key line")
      return
    }
    #expect(String(decoding: GitSyntax.decode(bytes[range]), as: UTF8.self) == expected)
  }
}

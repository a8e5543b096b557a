import Foundation
import MailcredConfig
import MailcredCore
import MailcredSpelling
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
    let findings = Doctor.check(accounts: accounts, files: ["gitconfig": file], context: DoctorContext(credentials: [], mbsyncVersion: nil, now: Date(), speller: CommandLineSpelling())).findings
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

@Suite struct AercTests {
  @Test func sourceAndOutgoingURLsWithPasswordsAndCredCmds() throws {
    let file = try Fixture.file("accounts.conf")
    let accounts = AercConfig(file).accounts
    #expect(accounts.map { "\($0.name) \($0.proto) \($0.security) \($0.effectivePort)" } == [
      // aerc 0.14: smtp:// is clear text without `smtp-starttls = yes` (`true` is not read as yes).
      "Personal imap tls 143", "Personal smtp tls 465", "Work imap plain 143", "Work smtp plain 587", "Old smtp plain 587",
    ])
    let starttls = AercConfig(try Fixture.literal("[a]\noutgoing = smtp://u@h:587\nsmtp-starttls = yes\n")).accounts
    #expect(starttls.map(\.security) == [.starttls])
    #expect(starttls[0].ignoredOption == nil)
    let spelledTrue = AercConfig(try Fixture.literal("[a]\noutgoing = smtp://u@h:587\nsmtp-starttls = true\n")).accounts
    #expect(spelledTrue.map(\.security) == [.plain])
    #expect(spelledTrue[0].ignoredOption == Setting("true", path: "rc", line: 3))
    #expect(secretText(accounts[0], file) == "app pw")
    #expect(accounts[0].user?.value == "me@fastmail.com")
    #expect(accounts[1].authMethod?.value == "plain")
    #expect(accounts[2].mailcredAccount == "work")
    #expect(accounts[3].passwordCommand?.line == 12)
  }

  @Test func doctorFindingsAndTheImportLines() throws {
    let file = try Fixture.file("accounts.conf")
    let context = DoctorContext(credentials: [], mbsyncVersion: nil, now: Date(), speller: CommandLineSpelling())
    let findings = Doctor.check(file, client: .aerc, context: context).findings
    #expect(findings.map { "\($0.line ?? 0) \($0.code) \($0.fix ?? "-")" } == [
      "3 port-security source = imap://me%40fastmail.com@imap.fastmail.com:143",
      "3 plaintext-secret source        = imaps://me%40fastmail.com@imap.fastmail.com:143",
      "4 plaintext-secret outgoing      = smtps+plain://me%40fastmail.com@smtp.fastmail.com:465",
      "9 tls-off source = imap://me@imap.example.com:143",
      "10 missing-credential -",
      "11 tls-off smtp-starttls = yes",
      "11 auth-method outgoing = smtp+xoauth2://me%40outlook.com@smtp-mail.outlook.com:587",
      "12 missing-credential -",
      "16 missing-credential -",
      "17 aerc-starttls-value smtp-starttls = yes",
    ])
    #expect(findings.last?.message.contains("aerc 0.14 reads only `smtp-starttls = yes`; `true` counts as unset") == true)
    let items = ImportPlan.items(in: file, client: .aerc)
    #expect(items.map(\.name) == ["Personal", "Personal"])
    let text = String(decoding: ImportPlan.rewrite(file, items: items).bytes, as: UTF8.self)
    #expect(text.hasPrefix("""
      # aerc accounts
      [Personal]
      source        = imaps://me%40fastmail.com@imap.fastmail.com:143
      source-cred-cmd = mailcred get Personal
      outgoing      = smtps+plain://me%40fastmail.com@smtp.fastmail.com:465
      outgoing-cred-cmd = mailcred get Personal
      from          = Me <me@fastmail.com>

      """))
    #expect(ImportPlan.items(in: try ConfigFile(path: "x", bytes: Array(text.utf8)), client: .aerc).isEmpty)
  }
}

@Suite struct NetrcTests {
  @Test func netrcAndAuthinfoEntriesForMailServersOnly() throws {
    let file = try Fixture.literal("""
      machine smtp.gmail.com login me@gmail.com password "p w"
      machine github.com login me password ghp_token
      machine mail.example.org
        login me
        password secret
      machine intranet.example port 587 login x password y
      default login anonymous password guest

      """)
    #expect(NetrcFiles.netrcEntries(file).map { "\($0.host) \($0.user ?? "-") \($0.line)" } == [
      "smtp.gmail.com me@gmail.com 1", "mail.example.org me 5", "intranet.example x 6",
    ])
    let findings = NetrcFiles.findings(NetrcFiles.netrcEntries(file), path: ".netrc", facts: .init(mode: 0o644, inGitWorkTree: false), speller: CommandLineSpelling())
    #expect(findings.map(\.code) == ["plaintext-secret", "plaintext-secret", "plaintext-secret", "file-mode"])
    #expect(!findings.contains { $0.text.contains("p w") || $0.text.contains("secret") && !$0.text.contains("plaintext secret") })
  }

  @Test func importCutsOnlyThePasswordPairAndKnowsTheEndpointFromThePort() throws {
    let file = try Fixture.literal("""
      machine smtp.gmail.com login me@gmail.com password "p w"
      machine mail.example.org
        login me
        password secret
      machine imap.example.net login x password y
      machine smtp.example.com login a port 465 password z # kept
      machine smtp.nologin.example.com password n

      """)
    let secrets = NetrcFiles.netrcSecrets(file)
    #expect(secrets.map { NetrcFiles.lineWithoutPassword($0, in: file) } == [
      "machine smtp.gmail.com login me@gmail.com", "", "machine imap.example.net login x", "machine smtp.example.com login a port 465 # kept",
      "machine smtp.nologin.example.com",
    ])
    #expect(secrets.map { $0.plaintext.secret(in: file).bytes } == ["p w", "secret", "y", "z", "n"].map { Array($0.utf8) })
    #expect(secrets.map { NetrcFiles.account(for: $0).flatMap(ImportPlan.endpoint(of:)).map { "\($0.proto) \($0.hostAndPort) \($0.security)" } ?? "-" } == [
      "smtp smtp.gmail.com:587 starttls", "smtp mail.example.org:587 starttls", "imap imap.example.net:993 tls", "smtp smtp.example.com:465 tls", "-",
    ])
    let unterminated = try Fixture.literal("machine smtp.example.com login a password \"open\n")
    #expect(NetrcFiles.netrcSecrets(unterminated).isEmpty, "an unterminated quote is not guessed at")
    let findings = NetrcFiles.findings(NetrcFiles.netrcEntries(file), path: ".netrc", facts: nil, importable: true, speller: CommandLineSpelling())
    #expect(findings.first?.message.hasSuffix("`mailcred import .netrc` stores it (checked live) and removes only its `password` pair; machine and login stay") == true)
    #expect(findings.last?.message.contains("mailcred add NAME") == true, "no login: only by hand")
  }

  @Test func gitCredentialsLinesForMailServersOnly() throws {
    let file = try Fixture.literal("https://me:tok@github.com\nsmtp://me%40x.org:pw@127.0.0.1%3a587\nhttps://me:pw@smtp.office365.com\n")
    #expect(NetrcFiles.gitCredentialEntries(file).map(\.line) == [2, 3])
  }
}

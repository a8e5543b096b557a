import Foundation
import MailcredConfig
import MailcredCore
import MailcredSpelling
import Testing

/// `mailcred setup`'s blocks, and that each reads back through mailcred's own reader as the account it
/// was made for (right port and security, the mailcred line, no finding).
@Suite struct SetupBlockTests {
  let created = RFC3339.parse("2026-01-01T00:00:00Z")!

  func credential(kind: CredentialKind = .appPassword) -> Credential {
    Credential(
      account: "work", kind: kind, user: "me@example.com",
      smtp: Endpoint(proto: .smtp, host: "smtp.example.com", port: 465, security: .tls),
      imap: Endpoint(proto: .imap, host: "imap.example.com", port: 993, security: .tls), created: created)
  }

  var context: DoctorContext { DoctorContext(credentials: [credential()], mbsyncVersion: (1, 4), now: created, speller: CommandLineSpelling()) }

  @Test func msmtpBlockReadsBackCleanly() throws {
    let text = try SetupBlock.text(for: .msmtp, credential: credential(), caFile: "/etc/ca.pem")
    #expect(text == """
      account work
      host smtp.example.com
      port 465
      tls on
      tls_starttls off
      tls_trust_file /etc/ca.pem
      auth on
      user me@example.com
      from me@example.com
      passwordeval "mailcred get work"

      """)
    let result = Doctor.check(try Fixture.literal(text), client: .msmtp, context: context)
    #expect(result.accounts.first?.security == .tls)
    #expect(result.findings.isEmpty)
  }

  @Test func mbsyncBlockReadsBackCleanlyAndNamesItsMechanism() throws {
    let text = try SetupBlock.text(for: .mbsync, credential: credential(), caFile: nil, mbsyncVersion: (1, 4))
    #expect(text.hasPrefix("IMAPAccount work\nHost imap.example.com\nPort 993\nUser \"me@example.com\"\nPassCmd \"mailcred get work\"\nSSLType IMAPS\nAuthMechs PLAIN LOGIN\n\nIMAPStore work-remote\n"))
    let result = Doctor.check(try Fixture.literal(text), client: .mbsync, context: context)
    #expect(result.accounts.map(\.mailcredAccount) == ["work"])
    #expect(result.findings.isEmpty)
    #expect(try SetupBlock.text(for: .mbsync, credential: credential(), caFile: nil, mbsyncVersion: (1, 5)).contains("\nTLSType IMAPS\n"))
  }

  @Test func neomuttAercAndGitBlocksReadBackCleanly() throws {
    let neomutt = try SetupBlock.text(for: .neomutt, credential: credential(), caFile: nil)
    #expect(neomutt.contains("set smtp_url = \"smtps://smtp.example.com:465/\"\nset smtp_user = \"me@example.com\"\nset smtp_pass = \"`mailcred get work`\"\n"))
    let mutt = Doctor.check(try Fixture.literal(neomutt), client: .neomutt, context: context)
    #expect(mutt.accounts.map(\.proto) == [.smtp, .imap])
    #expect(mutt.findings.isEmpty)

    let aerc = try SetupBlock.text(for: .aerc, credential: credential(), caFile: nil)
    #expect(aerc == """
      [work]
      source = imaps://me%40example.com@imap.example.com:993
      source-cred-cmd = mailcred get work
      outgoing = smtps://me%40example.com@smtp.example.com:465
      outgoing-cred-cmd = mailcred get work
      from = me@example.com
      default = INBOX

      """)
    let aercResult = Doctor.check(try Fixture.literal(aerc), client: .aerc, context: context)
    #expect(aercResult.accounts.count == 2)
    #expect(aercResult.findings.isEmpty)

    let git = try SetupBlock.text(for: .git, credential: credential(), caFile: nil)
    #expect(git == "[sendemail]\n\tsmtpServer = smtp.example.com\n\tsmtpServerPort = 465\n\tsmtpEncryption = ssl\n\tsmtpUser = me@example.com\n[credential \"smtp://smtp.example.com:465\"]\n\thelper = mailcred\n")
  }

  @Test func oauth2CredentialsGetXOAUTH2AndAMissingServerIsAnError() throws {
    let oauth = credential(kind: .oauth2)
    #expect(try SetupBlock.text(for: .msmtp, credential: oauth, caFile: nil).contains("\nauth xoauth2\n"))
    #expect(try SetupBlock.text(for: .mbsync, credential: oauth, caFile: nil).contains("\nAuthMechs XOAUTH2\n"))
    #expect(try SetupBlock.text(for: .aerc, credential: oauth, caFile: nil).contains("source = imaps+xoauth2://"))
    #expect(try SetupBlock.text(for: .git, credential: oauth, caFile: nil).contains("\tsmtpAuth = XOAUTH2\n"))
    var smtpOnly = credential()
    smtpOnly.imap = nil
    #expect(throws: SetupBlock.Problem.needs(.imap, "work")) { try SetupBlock.text(for: .mbsync, credential: smtpOnly, caFile: nil) }
  }
}

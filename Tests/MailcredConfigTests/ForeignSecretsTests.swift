import Foundation
import MailcredConfig
import MailcredCore
import MailcredSpelling
import Testing

/// Secrets other programs keep in the Secret Service: which client lines point at them, and the exact
/// `secret-tool lookup` commands that are read (never run).
@Suite struct ForeignSecretsTests {
  @Test(arguments: [
    ("secret-tool lookup host smtp.example.com service smtp", ["host": "smtp.example.com", "service": "smtp"]),
    ("+secret-tool lookup account work", ["account": "work"]),
    ("`secret-tool lookup account work`", ["account": "work"]),
    ("/usr/bin/secret-tool lookup 'my account' \"a b\" x y\\ z 2>/dev/null", ["my account": "a b", "x": "y z"]),
    ("  secret-tool   lookup  k  \"quoted \\\"v\\\"\"", ["k": "quoted \"v\""]),
  ])
  func plainLookupsAreRead(_ command: String, _ expected: [String: String]) {
    #expect(ForeignSecrets.secretToolQuery(command) == expected)
  }

  @Test(arguments: [
    "secret-tool lookup account work | head -1", "secret-tool lookup account $USER", "secret-tool lookup account `whoami`",
    "secret-tool lookup account work; rm -rf ~", "secret-tool lookup account", "secret-tool store account work",
    "secret-tool lookup account 'work", "pass show mail/work", "secret-tool lookup account work > /tmp/x",
    "secret-tool lookup a b && echo", "secret-tool lookup a \"$(id)\"", "secret-tool lookup a *",
  ])
  func anythingMoreThanALookupIsLeftAlone(_ command: String) {
    #expect(ForeignSecrets.secretToolQuery(command) == nil)
  }

  @Test func msmtpWithoutAPasswordLineUsesItsOwnLookupAndAPasswordevalOfSecretToolIsReplaced() throws {
    let file = try Fixture.literal("""
      account own
      host smtp.example.com
      auth on
      user me@example.com

      account st
      host smtp.example.com
        passwordeval "secret-tool lookup account st"
      user me@example.com

      account off
      host smtp.example.com
      auth off
      user me@example.com

      """)
    let accounts = ClientConfig.read(file, client: .msmtp, loader: { _ in nil }).accounts
    let sources = accounts.map(ForeignSecrets.source(of:))
    #expect(sources[0] == ForeignSource(kind: .msmtpLookup, query: ["host": "smtp.example.com", "service": "smtp", "user": "me@example.com"], line: nil, after: 4))
    #expect(sources[1] == ForeignSource(kind: .secretTool, query: ["account": "st"], line: 8, after: 8))
    #expect(sources[2] == nil, "auth off: msmtp asks no keyring")
    #expect(ForeignSecrets.commandLine(for: accounts[1], name: "st", file: file, at: 8) == "  passwordeval \"mailcred get st\"")
    let findings = Doctor.check(file, client: .msmtp, context: DoctorContext(credentials: [], mbsyncVersion: nil, now: Date(), speller: CommandLineSpelling())).findings
    #expect(findings.filter { $0.code == "foreign-keyring-item" }.map { "\($0.line ?? 0) \($0.fix ?? "")" } == ["8   passwordeval \"mailcred get st\""])
  }

  @Test func mbsyncAercAndNeomuttCommandsToo() throws {
    let mbsync = try Fixture.literal("IMAPAccount m\nHost imap.example.com\nUser me\nPassCmd \"secret-tool lookup service imap user me\"\n")
    let m = try #require(ClientConfig.read(mbsync, client: .mbsync, loader: { _ in nil }).accounts.first)
    #expect(ForeignSecrets.source(of: m)?.query == ["service": "imap", "user": "me"])
    #expect(ForeignSecrets.commandLine(for: m, name: "m", file: mbsync, at: 4) == "PassCmd \"mailcred get m\"")
    let aerc = try Fixture.literal("[a]\nsource = imaps://me@imap.example.com\nsource-cred-cmd = secret-tool lookup account a\n")
    let a = try #require(ClientConfig.read(aerc, client: .aerc, loader: { _ in nil }).accounts.first)
    #expect(ForeignSecrets.source(of: a)?.line == 3)
    #expect(ForeignSecrets.commandLine(for: a, name: "a", file: aerc, at: 3) == "source-cred-cmd = mailcred get a")
    let mutt = try Fixture.literal("set smtp_url = \"smtp://me@smtp.example.com:587/\"\nset smtp_pass = \"`secret-tool lookup account n`\"\n")
    let n = try #require(ClientConfig.read(mutt, client: .neomutt, loader: { _ in nil }).accounts.first)
    #expect(ForeignSecrets.source(of: n)?.query == ["account": "n"])
  }

  @Test func theInMemoryKeyringKeepsOtherProgramsItemsApartFromMailcreds() throws {
    let keyring = InMemoryKeyring()
    keyring.storeForeign(attributes: ["host": "h", "service": "smtp", "user": "u"], label: "msmtp", secret: SecretBytes(taking: Array("s1".utf8)))
    let store = CredentialStore(keyring: keyring)
    try store.add(Credential(account: "own", kind: .password, user: "u", smtp: Endpoint(proto: .smtp, host: "h", port: 587, security: .starttls), created: Date()),
                  secret: SecretBytes(taking: Array("s2".utf8)), replace: false)
    let foreign = try keyring.searchForeign(["host": "h", "service": "smtp", "user": "u"])
    #expect(foreign.count == 1)
    #expect(try keyring.secret(of: foreign[0]).bytes == Array("s1".utf8))
    #expect(try store.secret(account: "own").bytes == Array("s2".utf8), "mailcred's search never sees the other item")
    keyring.setLocked(true)
    #expect(throws: KeyringError.locked) { try keyring.searchForeign(["host": "h"]) }
  }
}

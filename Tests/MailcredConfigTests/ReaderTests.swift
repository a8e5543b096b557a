import Foundation
import MailcredConfig
import MailcredCore
import Testing

enum Fixture {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
  static let names = try! FileManager.default.contentsOfDirectory(atPath: directory).sorted()

  static func bytes(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
  }

  static func file(_ name: String) throws -> ConfigFile { try ConfigFile(path: name, bytes: bytes(name)) }

  static func literal(_ text: String, path: String = "rc") throws -> ConfigFile { try ConfigFile(path: path, bytes: Array(text.utf8)) }

  /// neomutt's `source` of another fixture (given relative to the sourcing fixture, so as `./NAME`).
  static func loader(_ path: String) -> ConfigFile? {
    try? file(path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
  }
}

func secretText(_ account: ClientAccount, _ file: ConfigFile) -> String? {
  account.plaintext.map { String(decoding: $0.secret(in: file).bytes, as: UTF8.self) }
}

@Suite struct RoundTripTests {
  @Test(arguments: Fixture.names)
  func everyFixtureParsedAndWrittenBackIsByteIdentical(name: String) throws {
    let original = try Fixture.bytes(name)
    let file = try ConfigFile(path: name, bytes: original)
    _ = MsmtpConfig(file)
    _ = MbsyncConfig(file)
    _ = NeomuttConfig(file, loader: Fixture.loader)
    _ = GitSendemailConfig(entries: GitSendemailTests.entries, files: [name: file])
    #expect(file.bytes == original)
  }

  @Test func replacingOneLineChangesOnlyThatLineAndKeepsCRLF() throws {
    var file = try Fixture.file("msmtprc-crlf")
    let before = file.lines
    file.replace(line: 6, with: "passwordeval \"mailcred get crlf\"")
    #expect(file.text(ofLine: 6) == "passwordeval \"mailcred get crlf\"\r")
    for index in before.indices where index != 5 { #expect(file.lines[index] == before[index]) }
    #expect(file.bytes.last == UInt8(ascii: "d") || file.bytes.last == UInt8(ascii: "\""), "no newline added at the end")
  }

  @Test func refusesBinaryJunkInvalidUTF8AndHugeFiles() {
    #expect(throws: ConfigError.self) { try ConfigFile(path: "junk", bytes: [0x61, 0x00, 0x62]) }
    #expect(throws: ConfigError.self) { try ConfigFile(path: "latin1", bytes: [0x61, 0xe9, 0x0a]) }
    #expect(throws: ConfigError.self) { try ConfigFile(path: "big", bytes: [UInt8](repeating: 0x61, count: 10 << 20)) }
  }
}

@Suite struct MsmtpReaderTests {
  @Test func defaultsInheritanceAndTheDefaultAccountResolveAsMsmtpDoes() throws {
    let file = try Fixture.file("msmtprc")
    let config = MsmtpConfig(file)
    #expect(config.accounts.map(\.name) == ["work", "work2", "home", "lab", "insecure"])
    #expect(config.defaultAccount?.value == "work")
    #expect(config.defaultAccount?.line == 41)
    let work = config.accounts[0]
    #expect(work.host == Setting("smtp.gmail.com", path: "msmtprc", line: 9))
    #expect(work.port?.value == 587)
    #expect(work.security == .starttls)
    #expect(work.caFile == "/etc/ssl/certs/ca-certificates.crt")
    #expect(work.plaintext?.line == 13)
    #expect(secretText(work, file) == "abcd efgh ijkl mnop")
    // work2 inherits host, user and the password line from work, and sets its own from.
    let work2 = config.accounts[1]
    #expect(work2.host?.line == 9)
    #expect(work2.user?.value == "me@example.com")
    #expect(work2.plaintext?.line == 13)
    let home = config.accounts[2]
    #expect(home.passwordCommand?.value == "mailcred get home")
    #expect(home.mailcredAccount == "home")
    #expect(home.plaintext == nil)
    #expect(home.securityLine?.line == 22)
    let lab = config.accounts[3]
    #expect(lab.security == .plain)
    #expect(secretText(lab, file) == "s3cret")
    let insecure = config.accounts[4]
    #expect(insecure.security == .tls)
    #expect(insecure.certificateCheckOff?.line == 37)
  }

  @Test func quotesAreRemovedOnlyInPairsAndBlanksAroundTheArgumentDropped() throws {
    let file = try Fixture.file("msmtprc-crlf")
    let config = MsmtpConfig(file)
    #expect(config.accounts.map(\.name) == ["crlf", "tabbed"])
    #expect(secretText(config.accounts[0], file) == "  spaced ")
    #expect(config.accounts[0].host?.value == "smtp.gmail.com")
    // msmtp takes an unmatched quote literally (measured with msmtp 1.8.23).
    #expect(secretText(config.accounts[1], file) == "\"unterminated")
    #expect(config.accounts[1].security == .starttls)
    #expect(config.accounts[1].defaultPort == 25)
  }

  @Test func msmtpDefaultsPortsTLSAndNamesAnUnknownParent() throws {
    let file = try Fixture.literal("account a : nosuch\nhost h\ntls on\ntls_starttls off\neval echo host x\n")
    let config = MsmtpConfig(file)
    #expect(config.accounts[0].effectivePort == 465)
    #expect(config.accounts[0].security == .tls)
    #expect(config.problems.map(\.line) == [1, 5])
  }

  @Test(arguments: [
    ("password \"a b\"", "a b"), ("password a\"b", "a\"b"), ("password \"a\\\"b\"", "a\\\"b"), ("password\t x \t", "x"),
    ("password \"\"", ""), ("password \"", "\""),
  ])
  func passwordArgumentsReadAsMsmtp1_8_23ReadsThem(line: String, expected: String) throws {
    let file = try Fixture.literal("account a\nhost h\n\(line)\n")
    #expect(secretText(MsmtpConfig(file).accounts[0], file) == expected)
  }
}

@Suite struct MbsyncReaderTests {
  @Test func imapAccountsAndImplicitStoreAccountsWithTheirLines() throws {
    let file = try Fixture.file("mbsyncrc")
    let config = MbsyncConfig(file)
    #expect(config.accounts.map(\.name) == ["personal", "work", "tunnel", "inline"])
    let personal = config.accounts[0]
    #expect(personal.host?.value == "imap.gmail.com")
    #expect(personal.security == .tls)
    #expect(personal.effectivePort == 993)
    #expect(personal.caFile == "/etc/ssl/certs/ca-certificates.crt")
    #expect(personal.plaintext?.line == 5)
    #expect(secretText(personal, file) == "pa ss\"word")
    let work = config.accounts[1]
    #expect(work.passwordCommand?.value == "+mailcred get work-imap")
    #expect(work.mailcredAccount == "work-imap")
    #expect(work.security == .starttls)
    #expect(work.authMethod?.value == "plain")
    #expect(config.accounts[2].tunnel?.line == 21)
    let inline = config.accounts[3]
    #expect(secretText(inline, file) == "plainpw")
    #expect(inline.security == .plain)
    #expect(inline.port?.value == 143)
    #expect(config.optionSpellings.map(\.line) == [6, 17, 28, 29])
    #expect(config.problems.isEmpty)
  }

  @Test func anUnclosedQuoteIsAProblemOnItsLine() throws {
    let config = MbsyncConfig(try Fixture.file("mbsyncrc-broken"))
    #expect(config.problems.map(\.line) == [4])
    #expect(config.accounts[0].security == .tls)
  }

  @Test(arguments: [
    ("\"a\\\"b c\"", "a\"b c"), ("ab\\c", "abc"), ("\"a\\\\b\"", "a\\b"), ("abc # c", "abc"), ("ab#c", "ab#c"),
    ("a\\ b", "a b"), ("\"a b\"c", "a bc"),
  ])
  func valuesTokenizeAsIsync1_4_4Does(value: String, expected: String) throws {
    let file = try Fixture.literal("IMAPAccount a\nHost h\nPass \(value)\n")
    #expect(secretText(MbsyncConfig(file).accounts[0], file) == expected)
  }

  @Test func recognisesMailcredCommandsInTheirUsualSpellings() {
    #expect(MailcredCommand.account(in: "mailcred get work") == "work")
    #expect(MailcredCommand.account(in: "+/usr/local/bin/mailcred get work") == "work")
    #expect(MailcredCommand.account(in: "\"mailcred get work\"") == "work")
    #expect(MailcredCommand.account(in: "pass show mail/work") == nil)
    #expect(MailcredCommand.account(in: "secret-tool lookup host h") == nil)
    #expect(mailcredAccountName(for: "my work \"acct\"") == "my-work--acct-")
  }
}

@Suite struct NeomuttReaderTests {
  @Test func smtpAndImapAccountsFollowingSourceWithURLPasswordsAndQuotedValues() throws {
    let file = try Fixture.file("neomuttrc")
    let config = NeomuttConfig(file, loader: Fixture.loader)
    #expect(config.problems.isEmpty)
    #expect(config.accounts.map(\.proto) == [.smtp, .imap])
    let smtp = config.accounts[0]
    #expect(smtp.host?.value == "smtp.fastmail.com")
    #expect(smtp.port?.value == 587)
    #expect(smtp.security == .tls)
    #expect(smtp.user?.value == "me@example.com")
    #expect(smtp.plaintext?.line == 4)
    #expect(secretText(smtp, file) == "pa:ss")
    #expect(smtp.certificateCheckOff == Setting("ssl_verify_dates", path: "neomuttrc", line: 9))
    let imap = config.accounts[1]
    #expect(imap.host?.value == "imap.fastmail.com")
    #expect(imap.user == Setting("me@example.com", path: "neomutt-secrets", line: 1))
    #expect(imap.plaintext?.path == "neomutt-secrets")
    #expect(imap.plaintext?.line == 2)
    #expect(secretText(imap, try #require(config.files["neomutt-secrets"])) == "sec\"ret#1")
  }

  @Test func backticksAreCommandsAndForceTLSOffIsRemembered() throws {
    let file = try Fixture.literal("set smtp_url=smtp://u@127.0.0.1:587/ smtp_pass=\"`mailcred get u`\"\nset ssl_force_tls=no\n")
    let config = NeomuttConfig(file, loader: { _ in nil })
    let smtp = try #require(config.accounts.first)
    #expect(smtp.security == .starttls)
    #expect(smtp.passwordCommand?.value == "mailcred get u")
    #expect(smtp.mailcredAccount == "u")
    #expect(smtp.tlsOptional?.line == 2)
  }

  @Test func anIMAPURLPasswordBecomesImapPass() throws {
    let file = try Fixture.literal("set smtp_url = \"smtp://u@h:587/\"\nset folder = \"imaps://u:p%40ss@h/\"\n")
    let items = ImportPlan.items(in: file, client: .neomutt)
    #expect(items.count == 1)
    #expect(items.first?.replacementLine == "set folder = \"imaps://u@h/\"")
    #expect(items.first?.insertedLine == "set imap_pass = \"`mailcred get u`\"")
    #expect(items.first.map { String(decoding: $0.plaintext.secret(in: file).bytes, as: UTF8.self) } == "p@ss")
  }

  @Test func sourceLoopsUnreadableSourcesAndUnterminatedQuotesAreProblems() throws {
    let file = try Fixture.literal("source rc\nsource missing\nset smtp_pass = \"open\n", path: "rc")
    let config = NeomuttConfig(file, loader: { path in path == "./missing" ? nil : try? Fixture.literal("", path: path) })
    #expect(config.problems.map(\.line) == [2, 3])
  }

  @Test(arguments: [
    ("set smtp_pass = \"a\\\"b\"", "a\"b"), ("set smtp_pass='a b'", "a b"), ("set smtp_pass = plain # c", "plain"),
    ("set smtp_pass = \"x#y\" ; set from = a", "x#y"),
  ])
  func passwordValuesReadAsNeomuttReadsThem(line: String, expected: String) throws {
    let file = try Fixture.literal("set smtp_url = smtp://h/\n\(line)\n")
    #expect(secretText(NeomuttConfig(file, loader: { _ in nil }).accounts[0], file) == expected)
  }
}

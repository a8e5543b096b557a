import Foundation
import Testing

@testable import MailcredCore

/// git kind credentials on the in-memory keyring: git's matching rule field by field (credential.c's
/// credential_match), the secret layout, and the parser's long-line rule. The same rules run end to end
/// against gnome-keyring and the real git in GitHelperConformanceTests and GitHTTPTests.
@Suite struct GitKindCredentialTests {
  let store = CredentialStore(keyring: InMemoryKeyring())
  var helper: GitCredentialHelper { GitCredentialHelper(store: store) }
  let now = Date(timeIntervalSince1970: 1_790_000_000)

  func request(_ text: String) throws -> GitCredentialMessage { try GitCredentialMessage.parse(Array((text + "\n\n").utf8)) }
  func password(_ text: String) throws -> String? {
    try helper.reply(to: try request(text)).map { String(decoding: $0.secret.bytes, as: UTF8.self) }
  }

  struct Rule: CustomTestStringConvertible, Sendable {
    var request: String
    var hit: Bool
    var testDescription: String { request.replacingOccurrences(of: "\n", with: " ") }
  }

  /// Stored: protocol=https host=forge.test:8443 path=team/repo.git username=ann.
  static let rules: [Rule] = [
    Rule(request: "protocol=https\nhost=forge.test:8443\npath=team/repo.git\nusername=ann", hit: true),
    Rule(request: "protocol=https\nhost=forge.test:8443", hit: true),  // no path, no user: wildcards
    Rule(request: "protocol=https\nhost=forge.test:8443\nusername=ann", hit: true),
    Rule(request: "protocol=https\nhost=forge.test:8443\npath=team/other.git", hit: false),
    Rule(request: "protocol=https\nhost=forge.test:8443\npath=", hit: false),
    Rule(request: "protocol=https\nhost=forge.test:8443\nusername=", hit: false),  // empty is a value
    Rule(request: "protocol=https\nhost=forge.test:8443\nusername=bob", hit: false),
    Rule(request: "protocol=https\nhost=forge.test", hit: false),  // the port is part of the host
    Rule(request: "protocol=https\nhost=FORGE.test:8443", hit: false),  // exact, as git compares
    Rule(request: "protocol=http\nhost=forge.test:8443", hit: false),
    Rule(request: "protocol=smtp\nhost=forge.test:8443", hit: false),
    Rule(request: "host=forge.test:8443", hit: false),  // get needs a protocol
    Rule(request: "url=https://ann@forge.test:8443/team/repo.git", hit: true),
  ]

  @Test(arguments: rules)
  func getMatchesFieldByFieldAsGitDoes(rule: Rule) throws {
    #expect(try helper.store(try request("protocol=https\nhost=forge.test:8443\npath=team/repo.git\nusername=ann\npassword=pw"), now: now) == .created("ann@forge.test:8443"))
    #expect(try password(rule.request) == (rule.hit ? "pw" : nil))
  }

  @Test func storeOverwritesTheSameKeyAndKeepsOtherUsersAndPathsApart() throws {
    _ = try helper.store(try request("protocol=https\nhost=h\nusername=u\npassword=one"), now: now)
    #expect(try helper.store(try request("protocol=https\nhost=h\nusername=u\npassword=two"), now: now) == .updated("u@h"))
    #expect(try helper.store(try request("protocol=https\nhost=h\nusername=u\npassword=two"), now: now) == .unchanged("u@h"))
    #expect(try helper.store(try request("protocol=https\nhost=h\nusername=v\npassword=three"), now: now) == .created("v@h"))
    #expect(try helper.store(try request("protocol=https\nhost=h\npath=p\nusername=u\npassword=four"), now: now) == .created("https:u@h"))
    #expect(try helper.store(try request("protocol=http\nhost=h\nusername=u\npassword=five"), now: now) == .created("http:u@h"))
    #expect(try password("protocol=https\nhost=h\nusername=u\npath=") == nil)
    #expect(try password("protocol=https\nhost=h\nusername=v") == "three")
    #expect(try password("protocol=https\nhost=h\npath=p") == "four")
    #expect(try store.all().count == 4)
    // erase: the password must match when given; no username erases every user of the host.
    #expect(try helper.erase(try request("protocol=https\nhost=h\nusername=u\npassword=wrong"), now: now).isEmpty)
    #expect(try helper.erase(try request("protocol=https\nhost=h"), now: now).sorted() == ["https:u@h", "u@h", "v@h"])
    #expect(try store.all().map(\.credential.account) == ["http:u@h"], "git credentials are deleted, not kept erased")
  }

  @Test func storeIgnoresWhatIsNotACredential() throws {
    for text in [
      "protocol=https\nhost=h\npassword=no-user", "protocol=https\nhost=h\nusername=u",
      "host=h\nusername=u\npassword=p", "protocol=https\nusername=u\npassword=p",
      "protocol=https\nhost=h\nusername=u\npassword=p\nephemeral=1",
      "protocol=https\nhost=h\nauthtype=Bearer\ncredential=t",  // no capability[]=authtype
    ] {
      #expect(try helper.store(try request(text), now: now) == .ignored, "\(text)")
    }
    #expect(try store.all().isEmpty)
  }

  @Test func theSecretLayoutKeepsAnEmptyPasswordAndTheRefreshTokenOnASecondLine() throws {
    let empty = SecretBytes(taking: [])
    #expect(GitSecret.encode(empty, refreshToken: nil).bytes == [0x0a])
    #expect(GitSecret.decode(GitSecret.encode(empty, refreshToken: nil)).primary.bytes == [])
    let both = GitSecret.encode(SecretBytes(taking: Array("pw".utf8)), refreshToken: SecretBytes(taking: Array("rt".utf8)))
    #expect(both.bytes == Array("pw\noauth_refresh_token=rt".utf8))
    #expect(GitSecret.decode(both).primary.bytes == Array("pw".utf8) && GitSecret.decode(both).refreshToken?.bytes == Array("rt".utf8))
    #expect(GitSecret.firstLine(both).bytes == Array("pw".utf8))
    #expect(GitSecret.firstLine(SecretBytes(taking: Array("plain".utf8))).bytes == Array("plain".utf8))
  }

  @Test func anOverlongLineOfAKeyMailcredDoesNotReadIsSkippedWholeNotSplit() throws {
    let long = "wwwauth[]=Basic realm=" + String(repeating: "a", count: 70_000) + "host=victim"
    let parsed = try request("protocol=https\nhost=badguy\n\(long)\nusername=u")
    #expect(parsed.host == "badguy" && parsed.username == "u")
    #expect(parsed.lists["wwwauth"] == nil)
    #expect(throws: GitCredentialMessage.ParseError.self) {
      try request("protocol=https\nhost=" + String(repeating: "h", count: 70_000))
    }
  }

  @Test func getRepliesWithExpiryRefreshTokenAndAuthtypeInGitsOrder() throws {
    _ = try helper.store(try request("protocol=https\nhost=h\nusername=u\npassword=pw\npassword_expiry_utc=1800000000\noauth_refresh_token=rt"), now: now)
    let reply = try #require(try helper.reply(to: try request("protocol=https\nhost=h")))
    #expect(reply.bytes().text == "username=u\npassword=pw\npassword_expiry_utc=1800000000\noauth_refresh_token=rt\n")
    _ = try helper.store(try request("capability[]=authtype\nprotocol=https\nhost=t\nauthtype=Bearer\ncredential=tok"), now: now)
    #expect(try helper.reply(to: try request("protocol=https\nhost=t")) == nil)
    let bearer = try #require(try helper.reply(to: try request("capability[]=authtype\nprotocol=https\nhost=t")))
    #expect(bearer.bytes().text == "capability[]=authtype\nauthtype=Bearer\ncredential=tok\n")
  }
}

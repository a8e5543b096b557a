import Testing

@testable import MailcredCore

@Suite struct GitCredentialMessageTests {
  private func parse(_ text: String) throws -> GitCredentialMessage {
    try GitCredentialMessage.parse(Array(text.utf8))
  }

  @Test func readsEveryDocumentedKey() throws {
    let message = try parse("""
      protocol=smtp
      host=mail.example.com:587
      path=some/path
      username=me@example.com
      password=s3cret=with=equals
      password_expiry_utc=1798761600
      oauth_refresh_token=refresh
      authtype=Bearer
      credential=token
      ephemeral=1
      continue=1
      wwwauth[]=Basic realm="x"
      capability[]=authtype
      capability[]=state
      state[]=helper:abc
      future_key=kept

      ignored=after blank line
      """)
    #expect(message.proto == "smtp")
    #expect(message.host == "mail.example.com:587")
    #expect(message.path == "some/path")
    #expect(message.username == "me@example.com")
    #expect(message.password?.text == "s3cret=with=equals")
    #expect(message.values["password"] == nil, "a password is never kept as a String")
    #expect(message["password_expiry_utc"] == "1798761600")
    #expect(message.refreshToken?.text == "refresh")
    #expect(message.lists["capability"] == ["authtype", "state"])
    #expect(message.lists["wwwauth"] == ["Basic realm=\"x\""])
    #expect(message["future_key"] == "kept")
    #expect(message["ignored"] == nil)
  }

  @Test func emptyListValueResetsTheList() throws {
    let message = try parse("capability[]=a\ncapability[]=\ncapability[]=b\n\n")
    #expect(message.lists["capability"] == ["b"])
  }

  @Test func acceptsCRLFAndMissingBlankLine() throws {
    let message = try parse("protocol=smtp\r\nhost=h\r\nusername=u")
    #expect(message.proto == "smtp")
    #expect(message.username == "u")
  }

  @Test func emptyInputIsAnEmptyMessage() throws {
    #expect(try parse("") == GitCredentialMessage())
    #expect(try parse("\n") == GitCredentialMessage())
  }

  @Test func urlIsBrokenIntoParts() throws {
    let message = try parse("url=smtp://me%40example.com@mail.example.com:465/p%20q\n\n")
    #expect(message.proto == "smtp")
    #expect(message.username == "me@example.com")
    #expect(message.host == "mail.example.com:465")
    #expect(message.path == "p q")
  }

  @Test func refusesNULLongLinesAndGarbage() {
    #expect(throws: GitCredentialMessage.ParseError.nul(line: 1)) { try GitCredentialMessage.parse(Array("protocol=sm\0tp\n".utf8)) }
    let long = "password=" + String(repeating: "x", count: 70_000) + "\n"
    #expect(throws: GitCredentialMessage.ParseError.lineTooLong(1)) { try parse(long) }
    #expect(throws: GitCredentialMessage.ParseError.malformed(line: 2)) { try parse("protocol=smtp\nnoequals\n") }
    #expect(throws: GitCredentialMessage.ParseError.malformed(line: 1)) { try parse("=value\n") }
    #expect(throws: GitCredentialMessage.ParseError.invalidUTF8(line: 1)) { try GitCredentialMessage.parse([0x61, 0x3d, 0xff, 0x0a]) }
  }

  @Test func acceptsALineOfExactly65535Bytes() throws {
    let value = String(repeating: "y", count: 65535 - "password=".count)
    #expect(try parse("password=\(value)\n").password?.text == value)
  }

  @Test func neverWritesAValueThatWouldInjectALine() {
    var message = GitCredentialMessage()
    message["username"] = "me"
    message.secrets["password"] = SecretBytes(taking: Array("evil\nprotocol=https".utf8))
    message["path"] = "nul\0"
    let text = message.serialized().text
    #expect(text == "username=me\n")
  }
}

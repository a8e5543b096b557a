import Testing

@testable import MailcredCore

@Suite struct SecretRulesTests {
  private func accept(_ text: String, keep: Bool = false) throws -> (String, String?) {
    let result = try SecretRules.accept(SecretBytes(taking: Array(text.utf8)), keepWhitespace: keep)
    return (String(decoding: result.secret.bytes, as: UTF8.self), result.note)
  }

  @Test(arguments: ["hunter2", "pass word with spaces", "päss wörd ☃", String(repeating: "x", count: 1024), "tab\tinside"])
  func keepsOrdinarySecretsExactly(secret: String) throws {
    let (stored, note) = try accept(secret)
    #expect(stored == secret)
    #expect(note == nil)
  }

  @Test func removesSpacesFromGroupedAppPasswords() throws {
    let (stored, note) = try accept("abcd efgh ijkl mnop")
    #expect(stored == "abcdefghijklmnop")
    #expect(note?.contains("removed the spaces") == true)
  }

  @Test(arguments: [" leading", "trailing ", "\tboth\t", "abcd efgh ijkl mnop "])
  func refusesSurroundingWhitespace(secret: String) throws {
    #expect(throws: InputError.self) { try accept(secret) }
    #expect(try accept(secret, keep: true).0 == secret)
  }

  @Test(arguments: ["", "line\nbreak", "nul\0byte", "cr\rhere", "del\u{7f}"])
  func refusesEmptyAndControlCharacters(secret: String) {
    #expect(throws: InputError.self) { try accept(secret) }
  }

  @Test func refusesInvalidUTF8() {
    #expect(throws: InputError.self) { try SecretRules.accept(SecretBytes(taking: [0x66, 0xff, 0x66])) }
  }
}

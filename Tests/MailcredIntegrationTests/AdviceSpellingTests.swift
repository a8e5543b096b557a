import Foundation
import MailcredCore
import MailcredSpelling
import Testing

/// The spelling table against the real argument parser: every command the advice can suggest is a real
/// subcommand, and every option it pairs with it is one that subcommand takes. A renamed flag fails here,
/// not in a user's terminal.
@Suite(.enabled(if: Harness.binary != nil, "needs MAILCRED_BIN (scripts/test)")) struct AdviceSpellingTests {
  static let pairs: [(AdviceCommand.Verb, [AdviceOption])] = [
    (.add, [.replace, .user("U"), .provider("P"), .kind(.appPassword), .server(.smtp, "H:1"), .server(.imap, "H:1"),
            .security(.smtp, .tls), .security(.imap, .starttls), .keepWhitespace, .noCheck, .timeout, .caFile("F")]),
    (.authorize, [.provider("P"), .clientID("C"), .clientSecretStdin, .caFile("F"), .tokenEndpoint("U"), .deviceEndpoint("U"),
                  .authorizationEndpoint("U"), .device, .timeout]),
    (.rotate, [.resume, .abort, .noCheck, .keepWhitespace, .timeout]),
    (.restore, [.previous]),
    (.check, [.timeout, .caFile("F")]),
    (.get, []), (.list, []), (.remove, []), (.show, []), (.unlock, []), (.import, []),
  ]

  @Test func everySuggestedCommandAndOptionIsOneTheParserTakes() throws {
    #expect(Set(Self.pairs.map(\.0)) == Set(AdviceCommand.Verb.allCases))
    let spelling = CommandLineSpelling()
    for (verb, options) in Self.pairs {
      let words = spelling.spell(AdviceCommand(verb)).split(separator: " ").map(String.init)
      #expect(words.first == "mailcred")
      let help = try Harness.mailcred(Array(words.dropFirst()) + ["--help"])
      #expect(help.status == 0, "\(words.joined(separator: " ")) --help: \(help.stderr)")
      for option in options {
        let flag = String(spelling.spell(option).split(separator: " ")[0])
        #expect(help.stdout.contains(flag + " ") || help.stdout.contains(flag + "\n") || help.stdout.contains(flag + ","),
                "`\(words.joined(separator: " "))` does not take \(flag)")
      }
    }
  }
}

import Foundation
import MailcredCore
import MailcredSpelling
import Testing

/// Advice is data: the core names the command and option, the CLI's one table spells them.
@Suite struct AdviceTests {
  @Test func interpolationKeepsCommandsAndOptionsAsParts() {
    let advice: Advice = "wrong password: `\(command: .rotate("work", .resume))` or `\(option: .abort)` (\(3) tries)"
    #expect(advice.parts == [
      .text("wrong password: `"), .command(AdviceCommand(.rotate, "work", [.resume])), .text("` or `"),
      .option(.abort), .text("` (3 tries)"),
    ])
    #expect(advice.commands == [.rotate("work", .resume)])
    #expect(advice.text == "wrong password: `mailcred rotate work --resume` or `--abort` (3 tries)")
  }

  @Test func adviceBuiltInPiecesEqualsAdviceBuiltAtOnce() {
    let pieces = Advice("a ") + "b" + "\(option: .timeout)" + Advice("") + " c"
    #expect(pieces == "a b\(option: .timeout) c")
    #expect(pieces.parts.count == 3)
    #expect(Advice("").isEmpty && Advice(parts: [.text(""), .text("")]).isEmpty)
    #expect(Advice("x").joined(with: "", separator: "; ") == "x")
    #expect(Advice("").joined(with: "y", separator: "; ") == "y")
    #expect(Advice("x").joined(with: "y", separator: "; ") == "x; y")
  }

  /// Another front end spells the same advice its own way, with no change to the core.
  @Test func anotherSpellerSpellsTheSameAdviceDifferently() {
    struct Buttons: AdviceSpeller {
      func spell(_ command: AdviceCommand) -> String { "[\(command.verb) \(command.account ?? "")]" }
      func spell(_ option: AdviceOption) -> String { "<option>" }
    }
    let result = CheckResult(
      endpoint: Endpoint(proto: .smtp, host: "smtp.example", port: 587, security: .starttls), verdict: .rejected,
      detail: "535 5.7.8 authentication failed", latency: 0.1)
    let advice = hint(for: result, provider: nil, account: "work")
    #expect(advice.commands == [.rotate("work")])
    #expect(advice.spelled(by: Buttons()).hasPrefix("wrong or expired (app) password: `[rotate work]`"))
    #expect(advice.text.hasPrefix("wrong or expired (app) password: `mailcred rotate work`"))
  }

  @Test func theTableSpellsEveryOptionWithItsValue() {
    let spelling = CommandLineSpelling()
    let cases: [(AdviceOption, String)] = [
      (.replace, "--replace"), (.noCheck, "--no-check"), (.keepWhitespace, "--keep-whitespace"), (.timeout, "--timeout"),
      (.device, "--device"), (.resume, "--resume"), (.abort, "--abort"), (.previous, "--previous"),
      (.caFile("CA.pem"), "--ca-file CA.pem"), (.caFile(nil), "--ca-file"), (.server(.imap, "h:993"), "--imap h:993"),
      (.server(.smtp, nil), "--smtp"), (.security(.smtp, .tls), "--smtp-security tls"), (.user("me"), "--user me"),
      (.provider("gmail"), "--provider gmail"), (.provider(nil), "--provider"), (.kind(.appPassword), "--kind app-password"),
      (.clientID("ID"), "--client-id ID"), (.clientSecretStdin, "--client-secret-stdin"),
      (.tokenEndpoint(nil), "--token-endpoint"), (.deviceEndpoint("URL"), "--device-endpoint URL"),
      (.authorizationEndpoint("URL"), "--authorization-endpoint URL"),
    ]
    for (option, spelled) in cases { #expect(spelling.spell(option) == spelled) }
    #expect(spelling.spell(.list) == "mailcred list")
    #expect(spelling.spell(.import("~/.msmtprc")) == "mailcred import ~/.msmtprc")
  }

  /// Error messages carry their commands as data too.
  @Test func errorsNameTheirCommands() {
    #expect(MailcredError.interruptedRotation("w").message.commands == [.rotate("w", .resume)])
    #expect(MailcredError.noSuchAccount("w").message.commands == [.list])
    #expect(KeyringError.locked.message.commands == [.unlock])
    #expect(OAuthFailure.reauthorize("damaged", account: "w").message.commands == [.authorize("w")])
    #expect(OAuthFailure.reauthorize("damaged", account: "w").detail == "damaged")
    #expect(MailcredError.accountExists("w").text == "account 'w' already exists — use --replace to overwrite it, or `mailcred rotate`")
  }

  /// The regression guard: no line of MailcredCore's code (comments aside) spells a command line.
  @Test func theCoreSpellsNoCommandLine() throws {
    let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/MailcredCore").standardized
    let files = try FileManager.default.contentsOfDirectory(atPath: core.path).filter { $0.hasSuffix(".swift") }
    #expect(files.count > 40)
    var offending: [String] = []
    let spelled = try Regex(#"`mailcred [a-z]|(^|[ "(`])--[a-z]"#)
    for file in files {
      let text = try String(contentsOf: core.appendingPathComponent(file), encoding: .utf8)
      for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let code = line.trimmingCharacters(in: .whitespaces)
        if code.hasPrefix("//") { continue }
        if line.contains(spelled) { offending.append("\(file):\(number + 1): \(code)") }
      }
    }
    #expect(offending.isEmpty, "\(offending.joined(separator: "\n"))")
  }
}

import ArgumentParser

@main
struct Mailcred: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mailcred",
    abstract: "Keep mail passwords and app passwords in the Secret Service keyring, check them live, and hand them to msmtp, mbsync and git.",
    version: "0.1.0",
    subcommands: [
      Add.self, Get.self, List.self, Show.self, Remove.self,
      Restore.self, Providers.self, CredentialHelper.self,
    ]
  )

  /// `git-credential-mailcred get` is `mailcred credential-helper get`: git finds helpers by that name.
  static func main() async {
    Terminal.hardenProcess()
    var arguments = Array(CommandLine.arguments.dropFirst())
    if Terminal.basenameOfArgv0 == "git-credential-mailcred" {
      arguments.insert("credential-helper", at: 0)
    }
    await main(arguments)
  }
}

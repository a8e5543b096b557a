#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser

@main
struct Mailcred: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mailcred",
    abstract: "Keep mail passwords and app passwords in the Secret Service keyring, check them live, and hand them to msmtp, mbsync and git.",
    version: "0.1.0",
    subcommands: [
      Add.self, Get.self, List.self, Show.self, Check.self, Audit.self, Rotate.self, Remove.self,
      Restore.self, Providers.self, Authorize.self, CredentialHelper.self, Unlock.self,
      Doctor.self, Import.self, Setup.self,
    ]
  )

  /// `git-credential-mailcred get` is `mailcred credential-helper get`: git finds helpers by that name.
  /// Usage errors are one line (argument-parser would add the usage text), exit 64.
  static func main() async {
    Terminal.hardenProcess()
    var arguments = Array(CommandLine.arguments.dropFirst())
    // `--no-unlock` belongs to every command (never show the keyring's unlock prompt): taken out here,
    // before any parsing, when it comes before a "--".
    if let index = arguments.firstIndex(of: "--no-unlock"), index < (arguments.firstIndex(of: "--") ?? arguments.endIndex) {
      arguments.remove(at: index)
      Environment.noUnlock = true
    }
    // `get NAME` runs on every mail sent: skip building the whole command tree for it. Anything else
    // (options, --help, a name starting with '-') goes through the parser as usual.
    if arguments.count == 2, arguments[0] == "get", !arguments[1].hasPrefix("-") {
      Glibc.exit(Get.printSecret(account: arguments[1]))
    }
    if Terminal.basenameOfArgv0 == "git-credential-mailcred" {
      arguments.insert("credential-helper", at: 0)
    }
    do {
      // The git helper's `get` (every fetch and push), likewise without the command tree. store and erase
      // keep the parser's path: they are rare, and their timing is what WriterConcurrencyTests exercises.
      if arguments.count == 2, arguments[0] == "credential-helper", arguments[1] == "get" {
        try CredentialHelper.serve("get")
        Glibc.exit(0)
      }
      var command = try parseAsRoot(arguments)
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      if let status = report(error) { Glibc.exit(status) }
      let code = exitCode(for: error)
      if code == .success {
        Terminal.writeOut(fullMessage(for: error) + "\n")
        Glibc.exit(0)
      }
      Terminal.writeError("mailcred: \(message(for: error)) (see `mailcred help`)")
      Glibc.exit(code == .validationFailure ? 64 : code.rawValue)
    }
  }
}

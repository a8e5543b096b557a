import ArgumentParser
import MailcredCore

extension Mailcred {
  struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Bring back a credential erased through the git credential protocol.",
      discussion: "git send-email erases a credential after one failed login; mailcred keeps it recoverable.")

    @Argument(help: "The credential's name.")
    var account: String

    func run() throws {
      let store = Environment.live().store
      let credential = try store.restore(account: account)
      note("restored \(credential.account) (\(credential.kind.rawValue) for \(credential.user))")
    }
  }
}

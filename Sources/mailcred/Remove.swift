import ArgumentParser
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Delete a credential (its current, pending and erased items).")

    @Argument(help: "The credential's name.")
    var account: String

    @Flag(name: [.short, .long], help: "Do not ask; required when there is no terminal.")
    var yes = false

    func run() throws {
      let store = Environment.live().store
      let entries = try store.entries(account: account)
      if entries.isEmpty { throw MailcredError.noSuchAccount(account) }
      if !yes {
        guard Terminal.stdinIsTTY else {
          throw InputError.usage("refusing to remove '\(account)' without --yes (no terminal to ask on)")
        }
        guard Terminal.confirm("Remove \(account) (\(entries[0].credential.user)) from the keyring?") else {
          throw InputError.usage("not removed")
        }
      }
      let count = try store.remove(account: account)
      note("removed \(account) (\(count) item\(count == 1 ? "" : "s"))")
    }
  }
}

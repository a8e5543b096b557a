import ArgumentParser
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Bring back an erased, removed or superseded credential.",
      discussion: """
        Without --previous: the credential git's erase made unusable (git send-email erases after one failed \
        login; mailcred keeps it recoverable), or, on an OpenBao/Vault store, the one `remove` deleted (KV v2 \
        keeps deleted versions). With --previous (OpenBao/Vault only): the secret that `add --replace` or \
        `rotate` superseded becomes current again, and the present one is kept as the previous (a second \
        --previous swaps back).
        """)

    @Argument(help: "The credential's name.")
    var account: String

    @Flag(help: "Swap the current secret with the one it superseded (OpenBao/Vault store).")
    var previous = false

    func run() throws {
      let store = Environment.live().store
      let credential = previous ? try store.restorePrevious(account: account) : try store.restore(account: account)
      note("restored \(credential.account) (\(credential.kind.rawValue) for \(credential.user))")
    }
  }
}

import ArgumentParser
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List every stored credential's metadata (never a secret).")

    @Flag(help: "Write a JSON array (documented in mailcred(1)).")
    var json = false

    func run() throws {
      let store = Environment.live().store
      let entries = try store.all()
      let time = now()
      defer {
        warnAboutInterruptedRotations(entries)
        warnAboutIdleGrants(entries.map(\.credential), now: time)
        warnAboutProviderPolicies(entries, now: time)
      }
      if json {
        Terminal.writeOut(encodeJSON(entries.map { CredentialReport($0.credential, now: time, speller: CommandLineSpelling()) }))
        return
      }
      if entries.isEmpty {
        note("no credentials stored yet — `mailcred add NAME --user USER --provider ID`")
        return
      }
      let rows = entries.map { entry -> [String] in
        let c = entry.credential
        return [
          c.account, c.kind.rawValue, c.user, c.smtp?.hostAndPort ?? "-", c.imap?.hostAndPort ?? "-",
          shortDate(c.created), c.statusText(withPolicyAt: time), c.lastCheckText,
        ]
      }
      Terminal.writeOut(table(["ACCOUNT", "KIND", "USER", "SMTP", "IMAP", "CREATED", "STATUS", "LAST CHECK"], rows))
    }
  }
}

/// A Microsoft OAuth2 grant unrefreshed for more than 80 days dies at 90 (`OAuthGrantAge`): say so on
/// stderr, which leaves `--json` output intact.
func warnAboutIdleGrants(_ credentials: [Credential], now: MailcredDate) {
  for credential in credentials {
    if let warning = OAuthGrantAge.warning(credential, now: now) { warn(warning) }
  }
}

import ArgumentParser
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one credential's metadata (never its secret).")

    @Argument(help: "The credential's name.")
    var account: String

    @Flag(help: "Write a JSON object (the same fields as `list --json`).")
    var json = false

    func run() throws {
      let store = Environment.live().store
      let entries = try store.entries(account: account)
      guard let entry = entries.first(where: { $0.credential.state == .current }) ?? entries.first else {
        throw MailcredError.noSuchAccount(account)
      }
      let c = entry.credential
      let time = now()
      defer {
        warnAboutInterruptedRotations(entries)
        warnAboutIdleGrants([c], now: time)
      }
      if json {
        Terminal.writeOut(encodeJSON(CredentialReport(c, now: time, speller: CommandLineSpelling())))
        return
      }
      var lines: [(String, String)] = [
        ("account", c.account), ("kind", c.kind.rawValue), ("user", c.user),
        ("provider", c.provider ?? "-"),
        ("smtp", c.smtp.map { "\($0.hostAndPort) \($0.security.rawValue)" } ?? "-"),
        ("imap", c.imap.map { "\($0.hostAndPort) \($0.security.rawValue)" } ?? "-"),
        ("created", RFC3339.format(c.created)), ("expires", c.expires.map(RFC3339.format) ?? "never"),
        ("status", c.statusText(withPolicyAt: time)), ("last check", c.lastCheckText),
      ]
      for concern in c.policyConcerns(now: time) {
        lines.append(("provider policy", (concern.level == .warning ? "warning: " : "") + concern.line.text))
      }
      if let git = c.git {
        lines += [("url", git.url)]
        if let authtype = git.authtype { lines.append(("authtype", authtype)) }
        lines.append(("check", "not checkable (a git credential: only its expiry is judged)"))
      }
      if let oauth = c.oauth {
        lines += [("client id", oauth.clientID), ("token endpoint", oauth.tokenEndpoint), ("scopes", oauth.scope)]
        if let url = oauth.authorizationEndpoint { lines.append(("authorization", url)) }
        if let url = oauth.deviceEndpoint { lines.append(("device endpoint", url)) }
        lines.append(("last refresh", c.refreshed.map(RFC3339.format) ?? "never (authorized \(RFC3339.format(c.created)))"))
      }
      let others = entries.filter { $0.item.id != entry.item.id }
      if !others.isEmpty {
        lines.append(("other items", others.map { "\($0.credential.state.rawValue) \(shortDate($0.credential.created))" }.joined(separator: ", ")))
      }
      let width = lines.map(\.0.count).max() ?? 0
      Terminal.writeOut(lines.map { "\($0.0):" + String(repeating: " ", count: width - $0.0.count + 1) + $0.1 }.joined(separator: "\n") + "\n")
    }
  }
}

import ArgumentParser
import MailcredCore
import MailcredSpelling
import MailcredNet

extension Mailcred {
  struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Verify stored credentials with a live AUTH and say why one fails.",
      discussion: """
        SMTP: EHLO, STARTTLS (required unless implicit TLS), EHLO, AUTH PLAIN or LOGIN, QUIT. IMAP: \
        STARTTLS or implicit TLS, AUTHENTICATE PLAIN or LOGIN, LOGOUT. Certificates and host names are \
        verified. Exit status: 0 all ok, 77 a secret was rejected, 76 TLS/protocol problem, 75 temporary \
        (timeout, refused, DNS, 4xx).
        """)

    @Argument(help: "Accounts to check.")
    var accounts: [String] = []

    @Flag(help: "Check every stored credential.")
    var all = false

    @Option(name: .customLong("protocol"), help: "Only this protocol's endpoint: smtp or imap.")
    var proto: MailProtocol?

    @Option(help: "How many checks run at once with --all.")
    var jobs: Int = 16

    @OptionGroup var live: LiveCheckOptions

    @Option(help: ArgumentHelp("SASL mechanism for OAuth2 credentials: xoauth2 or oauthbearer (default: XOAUTH2 when offered).", valueName: "MECHANISM"))
    var mechanism: BearerMechanism?

    @Flag(help: "Write a JSON array of results.")
    var json = false

    func validate() throws {
      if all && !accounts.isEmpty { throw ValidationError("give accounts or --all, not both") }
      if !all && accounts.isEmpty { throw ValidationError("name accounts to check, or --all") }
      if jobs < 1 || jobs > 1024 { throw ValidationError("--jobs takes 1 to 1024") }
    }

    func run() async throws {
      let store = Environment.live().store
      let entries: [CredentialStore.Entry] =
        all ? try store.all().filter { $0.credential.state == .current } : try accounts.map { try store.current(account: $0) }
      // A git credential has no mail endpoint to log in to: it is not checkable, only its expiry counts.
      let time = now()
      let git = entries.filter { $0.credential.kind == .git }
      let expiredGit = git.contains { if case .expired = ExpiryStatus(expires: $0.credential.expires, now: time) { true } else { false } }
      if !json {
        for entry in git {
          Terminal.writeOut("\(entry.credential.account)  not checkable (a git credential for \(entry.credential.git?.url ?? "?")): \(entry.credential.statusText(now: time))\n")
        }
      }
      let mail = entries.filter { $0.credential.kind != .git }
      if mail.isEmpty && !git.isEmpty {
        if json { Terminal.writeOut(encodeJSON([CheckReport]())) }
        if expiredGit { throw ExitCode(ExitStatus.authenticationRejected.rawValue) }
        return
      }
      if !mail.contains(where: { !$0.credential.endpoints(only: proto).isEmpty }) {
        throw MailcredError.configuration("nothing to check: no \(proto?.rawValue ?? "SMTP or IMAP") endpoint stored")
      }
      // oauth2 credentials get a fresh access token first (in parallel with everything else); a refused grant
      // is their result.
      let checks = live.checks(store, limits: CheckLimits(total: jobs))
      let found = try await checks.checkStored(mail, only: proto, mechanism: mechanism, recording: .always)
      for warning in found.warnings { warn(warning) }

      var reports: [CheckReport] = []
      var results: [CheckResult] = []
      for entry in mail {
        let c = entry.credential
        let provider = c.provider.flatMap(Provider.named)
        for result in found.results[entry.item.id] ?? [] {
          results.append(result)
          if json {
            reports.append(CheckReport(result, account: c.account, provider: provider, kind: c.kind, user: c.user))
          } else {
            Terminal.writeOut(resultLine(result, account: c.account) + "\n")
            if result.verdict != .ok {
              Terminal.writeOut("  hint: \(hint(for: result, provider: provider, account: c.account, kind: c.kind, user: c.user).text)\n")
            }
          }
        }
      }
      if json { Terminal.writeOut(encodeJSON(reports)) }
      if let verdict = CheckClass.worst(of: results), verdict != .ok { throw ExitCode(verdict.exitStatus.rawValue) }
      if expiredGit { throw ExitCode(ExitStatus.authenticationRejected.rawValue) }
    }
  }
}

extension MailProtocol: ExpressibleByArgument {}

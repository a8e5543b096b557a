import ArgumentParser
import MailcredCore
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
      let everyEntry: [CredentialStore.Entry] = try reporting { () throws(MailcredError) in
        if all { return try store.all().filter { $0.credential.state == .current } }
        return try accounts.map { account throws(MailcredError) in try store.current(account: account) }
      }
      // A git credential has no mail endpoint to log in to: it is not checkable, only its expiry counts.
      let time = now()
      var expiredGit = false
      for entry in everyEntry where entry.credential.kind == .git {
        if case .expired = ExpiryStatus(expires: entry.credential.expires, now: time) { expiredGit = true }
        if !json {
          Terminal.writeOut("\(entry.credential.account)  not checkable (a git credential for \(entry.credential.git?.url ?? "?")): \(entry.credential.statusText(now: time))\n")
        }
      }
      let entries = everyEntry.filter { $0.credential.kind != .git }
      if entries.isEmpty && !everyEntry.isEmpty {
        if json { Terminal.writeOut(encodeJSON([CheckReport]())) }
        if expiredGit { throw ExitCode(ExitStatus.authenticationRejected.rawValue) }
        return
      }
      // oauth2 credentials get a fresh access token first; a refused grant is their result.
      let prepared = try prepareChecks(Array(entries.enumerated()), store: store, live: live, proto: proto, mechanism: mechanism)
      let jobsList = prepared.jobs
      if jobsList.isEmpty && prepared.settled.isEmpty { throw fail(.configuration("nothing to check: no \(proto?.rawValue ?? "SMTP or IMAP") endpoint stored")) }
      let owned = prepared.owned(await checkAll(jobsList, concurrency: jobs, options: live.netOptions))
      let results = owned.map(\.1)
      let checkedAt = now()

      var reports: [CheckReport] = []
      for (index, entry) in entries.enumerated() {
        let mine = owned.filter { $0.0 == index }.map(\.1)
        guard !mine.isEmpty else { continue }
        let provider = entry.credential.provider.flatMap(Provider.named)
        for result in mine {
          if json {
            reports.append(CheckReport(result, account: entry.credential.account, provider: provider, kind: entry.credential.kind, user: entry.credential.user))
          } else {
            Terminal.writeOut(resultLine(result, account: entry.credential.account) + "\n")
            if result.verdict != .ok {
              Terminal.writeOut("  hint: \(hint(for: result, provider: provider, account: entry.credential.account, kind: entry.credential.kind, user: entry.credential.user))\n")
            }
          }
        }
        record(mine, on: entry, at: checkedAt, store: store)
      }
      if json { Terminal.writeOut(encodeJSON(reports)) }
      if let verdict = worst(results), verdict != .ok { throw ExitCode(verdict.exitStatus.rawValue) }
      if expiredGit { throw ExitCode(ExitStatus.authenticationRejected.rawValue) }
    }
  }
}

/// Remembers the last check on the item (`checked`, `check-result`) so that `list` and `rotate` know it
/// without the network. A failure to record is a warning: the check itself happened.
func record(_ results: [CheckResult], on entry: CredentialStore.Entry, at time: MailcredDate, store: CredentialStore) {
  guard let verdict = worst(results) else { return }
  var credential = entry.credential
  credential.checked = time
  credential.checkResult = verdict.rawValue
  // `check` and `audit` refresh an oauth2 grant first (prepareChecks, force): a result past the token
  // endpoint means the refresher just recorded a refresh, which this write must not turn back.
  if credential.kind == .oauth2, !results.contains(where: { $0.detail.hasPrefix(OAuthCheck.tokenEndpointPrefix) }) {
    credential.refreshed = time
  }
  do { try store.record(entry, as: credential) } catch { warn("could not record the check result: \(error.description)") }
}

extension MailProtocol: ExpressibleByArgument {}

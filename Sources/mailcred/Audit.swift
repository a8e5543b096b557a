import ArgumentParser
import MailcredCore
import MailcredSpelling
import MailcredNet

extension Mailcred {
  struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check every stored credential at once: expiry and a live AUTH, worst first.",
      discussion: """
        Exit status: 0 only when every credential authenticates and none is expired; otherwise the worst \
        class found (77 rejected or expired, over 76 TLS/protocol, over 75 temporary). Credentials expiring \
        within --warn-days are listed as warnings and do not change the exit status. --format prometheus \
        (with --textfile-dir: DIR/mailcred.prom, replaced atomically) keeps these statuses; --format nagios \
        exits as a Nagios plugin: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
        """)

    @Flag(help: "Write one JSON document (documented in mailcred(1)); the same as --format json.")
    var json = false

    @Option(help: ArgumentHelp("Output: table, json, prometheus (text exposition format) or nagios (plugin output and exit status).", valueName: "FORMAT"))
    var format: AuditFormat?

    @Option(name: .customLong("textfile-dir"), help: ArgumentHelp("With --format prometheus: replace DIR/mailcred.prom atomically (node_exporter's textfile collector) instead of printing.", valueName: "DIR"))
    var textfileDir: String?

    @Option(name: .customLong("crit-days"), help: "With --format nagios: CRITICAL for credentials expiring within this many days (WARNING within --warn-days).")
    var critDays: Int = NagiosReport.defaultCriticalDays

    @Option(help: "How many checks (and OAuth2 refreshes) run at once, in all.")
    var jobs: Int = CheckLimits.defaultTotal

    @Option(name: .customLong("per-mailbox"), help: ArgumentHelp("How many checks run at once for one user at one server (host:port).", valueName: "N"))
    var perMailbox: Int = CheckLimits.defaultPerMailbox

    @Flag(help: "Only look at expiry dates; make no connection.")
    var offline = false

    @Option(name: .customLong("warn-days"), help: "Warn about credentials expiring within this many days.")
    var warnDays: Int = ExpiryStatus.defaultWarningDays

    @Flag(help: "Send a desktop notification (notify-send) when something needs attention.")
    var notify = false

    @OptionGroup var live: LiveCheckOptions

    func validate() throws {
      if jobs < 1 || jobs > 1024 { throw ValidationError("--jobs takes 1 to 1024") }
      if perMailbox < 1 || perMailbox > 1024 { throw ValidationError("--per-mailbox takes 1 to 1024") }
      if warnDays < 0 || warnDays > 3660 { throw ValidationError("--warn-days takes 0 to 3660") }
      if critDays < 0 || critDays > warnDays { throw ValidationError("--crit-days takes 0 to --warn-days (\(warnDays))") }
      if json, let format, format != .json { throw ValidationError("--json is --format json: give one of them") }
      if textfileDir != nil && outputFormat != .prometheus { throw ValidationError("--textfile-dir needs --format prometheus") }
    }

    var outputFormat: AuditFormat { format ?? (json ? .json : .table) }

    func run() async throws {
      let format = outputFormat
      let store = Environment.live().store
      let entries: [CredentialStore.Entry]
      do { entries = try store.all() } catch {
        // A monitoring system must tell "could not look" from "all fine" and from "something is wrong".
        if format == .nagios { throw unknown(error.text) }
        throw error
      }
      // A locked keyring shows attributes but no secrets: nothing could be checked. For monitoring that is a
      // failed audit (69; UNKNOWN for Nagios; the previous textfile stays), never a clean one.
      if !offline, entries.contains(where: { $0.item.locked && $0.credential.state == .current }) {
        if format == .nagios { throw unknown(KeyringError.locked.text) }
        throw MailcredError.keyring(.locked)
      }
      let time = now()
      var results: [String: [CheckResult]] = [:]
      if !offline {
        do { results = try await checkEveryCredential(entries, store: store) } catch let error as any ReportableError {
          if format == .nagios { throw unknown(error.text) }
          throw error
        }
      }
      let rows = MailcredCore.Audit.rows(entries: entries, results: results, now: time, warningDays: warnDays)
      let status = MailcredCore.Audit.exitStatus(rows)
      switch format {
      case .json:
        Terminal.writeOut(encodeJSON(AuditDocument(rows: rows, now: time, warnDays: warnDays, status: status, offline: offline)))
      case .table:
        printTable(rows, now: time)
      case .prometheus:
        let text = AuditPrometheus.render(rows, now: time, offline: offline)
        if let textfileDir {
          try TextfileWriter.write(text, directory: textfileDir, name: AuditPrometheus.fileName)
        } else {
          Terminal.writeOut(text)
        }
      case .nagios:
        let report = NagiosReport(rows, now: time, warnDays: warnDays, critDays: critDays, offline: offline, speller: CommandLineSpelling())
        Terminal.writeOut(report.text)
        if notify { notifyDesktop(rows) }
        if report.state != .ok { throw ExitCode(report.state.rawValue) }
        return
      }
      if notify { notifyDesktop(rows) }
      if status != .ok { throw ExitCode(status.rawValue) }
    }

    /// Nagios' UNKNOWN (3): the status line on stdout, where the monitoring system reads it.
    private func unknown(_ reason: String) -> ExitCode {
      Terminal.writeOut(NagiosReport.unknown(reason).text)
      return ExitCode(NagiosReport.State.unknown.rawValue)
    }

    /// Checks every current credential and records each one's result on its item; results keyed by item id.
    /// Everything starts at once under `--jobs` and `--per-mailbox`.
    private func checkEveryCredential(_ entries: [CredentialStore.Entry], store: CredentialStore) async throws -> [String: [CheckResult]] {
      let checked = entries.filter { $0.credential.state == .current && !$0.item.locked }
      let progress: ProgressLine? = Terminal.stderrIsTTY && outputFormat == .table ? ProgressLine() : nil
      let checks = live.checks(store, limits: CheckLimits(total: jobs, perMailbox: perMailbox))
      // An unchanged result recorded within the hour is not written again: every write makes gnome-keyring
      // re-encrypt and rewrite its whole file, and a monitoring system may audit every few minutes.
      var show: (@Sendable (Int, Int) -> Void)?
      if let progress { show = { done, total in progress.show(done, of: total) } }
      let recording = CredentialChecks.Recording.unlessUnchangedWithin(Self.unchangedRecordInterval)
      let found: CredentialChecks.StoredResults = try await checks.checkStored(checked, only: nil, mechanism: nil, recording: recording, progress: show)
      progress?.clear()
      for warning in found.warnings { warn(warning) }
      return found.results
    }

    /// Seconds within which an unchanged result is not recorded again (`checked` may be up to this old).
    static let unchangedRecordInterval: Double = 3600

    private func printTable(_ rows: [AuditRow], now time: MailcredDate) {
      if rows.isEmpty {
        note("no credentials stored")
        return
      }
      let table = rows.map { row -> [String] in
        let c = row.credential
        let age = Int(time.timeIntervalSince(c.created) / 86400)
        let checks = c.kind == .git ? "not checkable" : offline ? "not checked" : (c.state != .current ? "-" : row.checks.map { "\($0.endpoint.proto.rawValue) \($0.verdict.rawValue)" }.joined(separator: ", "))
        return [c.account, c.kind.rawValue, c.user, c.provider ?? "-", "\(age)d", c.statusText(withPolicyAt: time, warningDays: warnDays), checks]
      }
      Terminal.writeOut(MailcredCLI.table(["ACCOUNT", "KIND", "USER", "PROVIDER", "AGE", "EXPIRY", "CHECK"], table))
      var interruptedReported: Set<String> = []
      for row in rows where row.attention != .none {
        let provider = row.credential.provider.flatMap(Provider.named)
        for check in row.checks where check.verdict != .ok {
          Terminal.writeOut("\(row.credential.account): \(check.endpoint.proto.rawValue) \(check.verdict.rawValue): \(oneLine(check.detail))\n")
          Terminal.writeOut("  hint: \(hint(for: check, provider: provider, account: row.credential.account, kind: row.credential.kind).text)\n")
        }
        let account = row.credential.account
        if let advice = row.expiryAdvice {
          // Expired is a failure, not a warning; expiring soon is a warning.
          let expired = if case .expired = row.expiry { true } else { false }
          Terminal.writeOut("\(account): \(expired ? "" : "warning: ")\(advice.text)\n")
        }
        if row.grantIdleDays != nil, let warning = OAuthGrantAge.warning(row.credential, now: time) {
          Terminal.writeOut("\(account): warning: \(warning.text)\n")
        }
        if row.credential.state == .current, let concern = row.credential.policyWarning(now: time) {
          Terminal.writeOut("\(account): warning: \(concern.line.text)\n")
        }
        if let advice = row.interruptedAdvice, interruptedReported.insert(account).inserted {
          Terminal.writeOut("\(account): \(advice.text)\n")
        }
      }
    }

    private func notifyDesktop(_ rows: [AuditRow]) {
      var named: Set<String> = []  // an account with several items (a pending rotation) is named once
      let failing = rows.filter { $0.attention == .failing && named.insert($0.credential.account).inserted }.map(\.credential.account)
      let warning = rows.filter { $0.attention == .warning && named.insert($0.credential.account).inserted }.map(\.credential.account)
      guard !failing.isEmpty || !warning.isEmpty else { return }
      var body: [String] = []
      if !failing.isEmpty { body.append("failing: " + failing.joined(separator: ", ")) }
      if !warning.isEmpty { body.append("attention: " + warning.joined(separator: ", ")) }
      // Silently skipped when notify-send is not installed: the exit status still says it.
      _ = spawnAndWait("notify-send", ["--app-name=mailcred", "mailcred audit", body.joined(separator: "\n")])
    }
  }
}

/// `audit --json`: one document.
struct AuditDocument: Encodable {
  struct Row: Encodable {
    var credential: CredentialReport
    var age_days: Int
    var attention: String
    var interrupted_rotation: Bool
    var checks: [CheckReport]
    var exit_status: Int32
    /// Only for a Microsoft grant idle past 80 days (omitted otherwise).
    var grant_idle_days: Int?
    var grant_warning: String?
  }

  var generated: String
  var offline: Bool
  var warn_days: Int
  var exit_status: Int32
  var credentials: [Row]

  init(rows: [AuditRow], now: MailcredDate, warnDays: Int, status: ExitStatus, offline: Bool) {
    generated = RFC3339.format(now)
    self.offline = offline
    warn_days = warnDays
    exit_status = status.rawValue
    credentials = rows.map { row in
      let provider = row.credential.provider.flatMap(Provider.named)
      return Row(
        credential: CredentialReport(row.credential, now: now, warningDays: warnDays, speller: CommandLineSpelling()),
        age_days: Int(now.timeIntervalSince(row.credential.created) / 86400),
        attention: ["none", "warning", "failing"][row.attention.rawValue],
        interrupted_rotation: row.interruptedRotation,
        checks: row.checks.map { CheckReport($0, account: row.credential.account, provider: provider, kind: row.credential.kind) },
        exit_status: row.exitStatus.rawValue, grant_idle_days: row.grantIdleDays,
        grant_warning: row.grantIdleDays == nil ? nil : OAuthGrantAge.warning(row.credential, now: now)?.text)
    }
  }
}

/// `checked 12/40` on stderr, rewritten in place; only on a terminal.
final class ProgressLine: Sendable {
  func show(_ done: Int, of total: Int) { Terminal.writeAll(2, "\rmailcred: checked \(done)/\(total)") }
  func clear() { Terminal.writeAll(2, "\r\u{1b}[K") }
}

/// `audit --format`.
enum AuditFormat: String, ExpressibleByArgument, CaseIterable {
  case table, json, prometheus, nagios
}

enum MailcredCLI {
  static func table(_ header: [String], _ rows: [[String]]) -> String { mailcred.table(header, rows) }
}

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import MailcredConfig
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check msmtp, mbsync, neomutt, aerc and git send-email configurations against the provider presets and the stored credentials.",
      discussion: """
        Reads ~/.msmtprc, $XDG_CONFIG_HOME/msmtp/config, ~/.mbsyncrc, $XDG_CONFIG_HOME/isync/mbsyncrc, \
        ~/.neomuttrc, $XDG_CONFIG_HOME/neomutt/neomuttrc, ~/.muttrc and ~/.mutt/muttrc (following `source`), \
        $XDG_CONFIG_HOME/aerc/accounts.conf, ~/.netrc, ~/.authinfo, ~/.git-credentials, and git's \
        sendemail.* settings through `git config` (or \
        the clients or files named) and reports each problem as FILE:LINE, its severity, and the exact line to \
        write instead. Never prints a secret. With --check, each account's server is also tried from here: with \
        the stored credential its `mailcred get NAME` names, a real check (AUTH); without one, only a connection \
        and a TLS handshake or greeting, on the configured port and its standard alternative (587/465, \
        993/143), to tell a blocked port from a wrong one. Exit status: 0 when no error-level finding, 78 when \
        there is one.
        """)

    @Argument(help: ArgumentHelp("msmtp, mbsync, neomutt, aerc, git, netrc, or configuration files (default: every client's usual files).", valueName: "CLIENT|FILE"))
    var targets: [String] = []

    @Flag(help: "Write the findings as JSON (documented in mailcred(1)).")
    var json = false

    @Flag(help: "Also try each account's server from here (see above); --timeout bounds each try.")
    var check = false

    @OptionGroup var live: LiveCheckOptions

    func run() async throws {
      // netrc, authinfo and git-credentials files are not a client's: judged apart (no accounts, no fix lines).
      let clientTargets = targets.filter { !NetrcSources.isShared($0) }
      let sources = targets.isEmpty || !clientTargets.isEmpty ? try ClientSources.resolve(clientTargets) : []
      let store = Environment.live().store
      var findings: [Finding] = []
      // Without the keyring the files can still be checked; only the `mailcred get NAME` lines cannot.
      var credentials: [Credential] = []
      var storeReadable = true
      var storeError = ""
      do {
        credentials = try store.all().map(\.credential).filter { $0.state == .current }
      } catch {
        storeReadable = false
        storeError = error.text
      }
      var context = DoctorContext(credentials: credentials, mbsyncVersion: installedMbsyncVersion(), now: now(), speller: CommandLineSpelling())
      context.storeReadable = storeReadable
      var accounts: [ClientAccount] = []
      var readFiles = 0
      var loadedFiles: [String: ConfigFile] = [:]
      for source in sources {
        if source.client == .git {
          let git = GitSendemail.read()
          var gitContext = context
          for file in git.files.values { gitContext.files[file.path] = file.facts }
          let result = MailcredConfig.Doctor.check(accounts: git.accounts, files: git.files.mapValues(\.file), context: gitContext)
          readFiles += git.files.count
          for (path, file) in git.files { loadedFiles[path] = file.file }
          accounts += result.accounts
          findings += result.findings
          continue
        }
        do {
          let loaded = try ClientFiles.load(source.path)
          readFiles += 1
          loadedFiles[source.path] = loaded.file
          var fileContext = context
          fileContext.files[source.path] = loaded.facts
          // neomutt's `source`: each sourced file is read once and judged with its own mode and place.
          var sourced: [String: ClientFiles.Loaded] = [:]
          let load: (String) -> ConfigFile? = { path in
            if let known = sourced[path] { return known.file }
            guard let file = try? ClientFiles.load(ClientFiles.expandingTilde(path)) else { return nil }
            sourced[path] = file
            return file.file
          }
          _ = ClientConfig.read(loaded.file, client: source.client, loader: load)
          for file in sourced.values {
            fileContext.files[file.path] = file.facts
            loadedFiles[file.path] = file.file
          }
          let result = MailcredConfig.Doctor.check(loaded.file, client: source.client, context: fileContext, loader: load)
          accounts += result.accounts
          findings += result.findings
          if result.accounts.isEmpty {
            findings.append(Finding(.info, "no-accounts", client: source.client, path: source.path, line: nil, "no \(source.client.rawValue) account found in this file"))
          }
        } catch {
          findings.append(Finding(.error, "unreadable", client: source.client, path: source.path, line: nil, error.reason))
        }
      }
      for path in NetrcSources.paths(targets: targets) {
        do {
          let loaded = try ClientFiles.load(path)
          readFiles += 1
          let name = path.split(separator: "/").last.map(String.init) ?? ""
          let entries = name.contains("credentials") ? NetrcFiles.gitCredentialEntries(loaded.file) : NetrcFiles.netrcEntries(loaded.file)
          findings += NetrcFiles.findings(entries, path: path, facts: loaded.facts, importable: !name.contains("credentials"), speller: CommandLineSpelling())
        } catch {
          findings.append(Finding(.error, "unreadable", path: path, line: nil, error.reason))
        }
      }
      if check {
        findings += await DoctorCheck.findings(accounts: accounts, store: store, credentials: credentials, live: live, files: loadedFiles)
      }
      // Said only when it matters: some account asks mailcred for its secret.
      if !storeReadable, accounts.contains(where: { $0.mailcredAccount != nil || $0.usesMailcredHelper }) {
        findings.insert(Finding(.warning, "keyring", path: "keyring", line: nil, "cannot read the store (\(storeError)): `mailcred get` lines were not checked"), at: 0)
      }
      let errors = findings.filter { $0.severity == .error }.count
      let warnings = findings.filter { $0.severity == .warning }.count
      let summary = "doctor: \(readFiles) file\(readFiles == 1 ? "" : "s"), \(accounts.count) account\(accounts.count == 1 ? "" : "s"): "
        + "\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")"
      if json {
        Terminal.writeOut(encodeJSON(DoctorReport(
          files: sources.map(\.path), accounts: accounts.map(DoctorReport.Account.init), findings: findings,
          errors: errors, warnings: warnings, summary: summary)))
      } else {
        for finding in findings { Terminal.writeOut(finding.text + "\n") }
        Terminal.writeOut(summary + "\n")
      }
      if errors > 0 { throw ExitCode(ExitStatus.configurationError.rawValue) }
    }
  }
}

struct DoctorReport: Encodable {
  struct Account: Encodable {
    var client: String
    var name: String
    var file: String
    var line: Int
    var host: String?
    var port: Int
    var security: String
    var user: String?
    var secret: String
    init(_ a: ClientAccount) {
      client = a.client.rawValue
      name = a.name
      file = a.path
      line = a.line
      host = a.host?.value
      port = a.effectivePort
      security = a.security.rawValue
      user = a.user?.value
      secret = a.plaintext != nil ? "plaintext" : a.mailcredAccount != nil ? "mailcred" : a.passwordCommand != nil ? "command" : "none"
    }
  }
  var files: [String]
  var accounts: [Account]
  var findings: [Finding]
  var errors: Int
  var warnings: Int
  var summary: String
}

extension ConfigError {
  /// The message without the path (a finding names the file already).
  var reason: String {
    switch self {
    case .unusable(_, let reason): return reason
    }
  }
}

/// Which files doctor and import look at, and as which client.
struct ClientSources {
  var client: MailClient
  var path: String

  static let supported: [MailClient] = [.msmtp, .mbsync, .neomutt, .aerc, .git]

  /// Client names become their existing standard files; anything else is a path.
  static func resolve(_ targets: [String]) throws -> [ClientSources] {
    var out: [ClientSources] = []
    let wanted = targets.isEmpty ? supported.map(\.rawValue) : targets
    for target in wanted {
      if let client = MailClient(rawValue: target.lowercased()), !target.contains("/") {
        if client == .git {
          out.append(ClientSources(client: .git, path: "git config"))
          continue
        }
        guard supported.contains(client) else {
          throw InputError.usage("\(client.rawValue) configurations are not read yet (supported: msmtp, mbsync, neomutt, aerc, git)")
        }
        for path in ClientFiles.standardPaths(for: client) where ClientFiles.exists(path) {
          out.append(ClientSources(client: client, path: path))
        }
        continue
      }
      guard ClientFiles.exists(target) else { throw InputError.usage("no such file or client: \(target)") }
      // An unreadable file is still a source: its error is reported (doctor) or refused (import) later.
      let sniffed = (try? ClientFiles.load(target)).flatMap { ClientFiles.client(ofFile: target, bytes: $0.file.bytes) }
      guard let client = sniffed ?? ClientFiles.client(ofFile: target, bytes: []) ?? (targets.count == 1 ? .msmtp : nil) else {
        throw InputError.usage("cannot tell which client \(target) is for (name it *msmtp*, *mbsync* or *muttrc*)")
      }
      out.append(ClientSources(client: client, path: target))
    }
    return out
  }
}

/// isync's version from `mbsync --version` ("isync 1.4.4"), nil when mbsync is not installed.
func installedMbsyncVersion() -> (Int, Int)? {
  guard let output = captureOutput("mbsync", ["--version"]) else { return nil }
  let words = output.split(whereSeparator: { $0 == " " || $0 == "\n" })
  guard let version = words.last(where: { $0.first?.isNumber == true }) else { return nil }
  let parts = version.split(separator: ".").compactMap { Int($0) }
  return parts.count >= 2 ? (parts[0], parts[1]) : nil
}

/// ~/.netrc, ~/.authinfo and git's credential store: read by doctor for mail servers' passwords.
enum NetrcSources {
  static func isShared(_ target: String) -> Bool {
    let name = target.split(separator: "/").last.map(String.init) ?? target
    return name == "netrc" || name.contains("netrc") || name.contains("authinfo") || name.contains("git-credentials")
      || (target.contains("/") && name == "credentials")
  }

  /// The named ones, or every standard one that exists when no target is given (or `netrc` is).
  static func paths(targets: [String]) -> [String] {
    let named = targets.filter { isShared($0) && $0 != "netrc" }
    if !named.isEmpty || (!targets.isEmpty && !targets.contains("netrc")) { return named }
    let home = getenv("HOME").map { String(cString: $0) } ?? "/"
    let config = getenv("XDG_CONFIG_HOME").map { String(cString: $0) } ?? home + "/.config"
    return [home + "/.netrc", home + "/.authinfo", home + "/.git-credentials", config + "/git/credentials"].filter { path in
      var info = stat()
      return stat(path, &info) == 0
    }
  }
}

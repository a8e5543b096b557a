#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MailcredCore

/// What the doctor knows besides the files: the store's credentials, the installed mbsync, each file's
/// mode and place. Gathered by the CLI, so the rules stay pure and are tested with literal values.
public struct DoctorContext: Sendable {
  public struct FileFacts: Sendable {
    public var mode: UInt32
    public var inGitWorkTree: Bool
    public init(mode: UInt32, inGitWorkTree: Bool) {
      self.mode = mode
      self.inGitWorkTree = inGitWorkTree
    }
  }

  public var credentials: [Credential]
  /// isync's (major, minor), when mbsync is installed.
  public var mbsyncVersion: (Int, Int)?
  public var now: Date
  public var files: [String: FileFacts]
  /// False when the store could not be read: `mailcred get NAME` lines are then not judged.
  public var storeReadable = true
  /// Writes the commands the findings suggest (the CLI's `CommandLineSpelling`).
  public var speller: any AdviceSpeller

  public init(credentials: [Credential], mbsyncVersion: (Int, Int)?, now: Date, files: [String: FileFacts] = [:], speller: any AdviceSpeller) {
    self.speller = speller
    self.credentials = credentials
    self.mbsyncVersion = mbsyncVersion
    self.now = now
    self.files = files
  }
}

/// Host names providers retired, and what replaced them.
public let outdatedHosts: [String: (host: String, provider: String)] = [
  "smtp.live.com": ("smtp-mail.outlook.com", "outlook.com"),
  "smtp.hotmail.com": ("smtp-mail.outlook.com", "outlook.com"),
  "imap-mail.outlook.com": ("outlook.office365.com", "outlook.com"),
  "imap.live.com": ("outlook.office365.com", "outlook.com"),
]

/// Addresses of Microsoft's personal accounts (outlook.com, hotmail.*, live.*, msn.com).
func isMicrosoftPersonal(_ user: String?) -> Bool {
  guard let domain = user?.split(separator: "@").last?.lowercased() else { return false }
  return domain == "msn.com" || ["outlook.", "hotmail.", "live."].contains { domain.hasPrefix($0) }
}

/// The checks of `mailcred doctor`, one client account at a time.
public enum Doctor {
  public static func findings(for account: ClientAccount, file: ConfigFile, files: [String: ConfigFile] = [:], context: DoctorContext) -> [Finding] {
    var out: [Finding] = []
    var syntax = LineSyntax(client: account.client, account: account)
    if let version = context.mbsyncVersion, version >= (1, 5) { syntax.mbsyncTypeKeyword = "TLSType" }
    func add(_ severity: Finding.Severity, _ code: String, _ line: Int?, _ advice: Advice, fix: String? = nil, action: Finding.FixAction? = nil, path: String? = nil) {
      let message = advice.spelled(by: context.speller)
      // A replacement keeps the old line's indentation; an added line takes the account line's.
      let fixLine = fix.map { text in line.map { syntax.indent(of: $0, in: file) + text } ?? text }
      out.append(Finding(severity, code, client: account.client, account: account.name, path: path ?? account.path, line: line, message, fix: fixLine, action: action))
    }
    let host = account.host?.value.lowercased()
    let port = account.effectivePort

    // Port against encryption: the classic "465 with STARTTLS" that hangs until a timeout.
    if account.tunnel == nil {
      let implicitPort = account.proto == .smtp ? 465 : 993
      let startPorts = account.proto == .smtp ? [587, 25] : [143]
      let place = account.client == .neomutt ? (line: account.line, action: Finding.FixAction.replace) : account.placement(of: account.securityLine?.line)

      if port == implicitPort, account.security == .starttls {
        add(.error, "port-security", place.line,
            "port \(port) is implicit TLS, but the account uses STARTTLS: the connection stalls until a timeout",
            fix: syntax.securityLine(.tls, port: port), action: place.action)
      } else if startPorts.contains(port), account.security == .tls {
        add(.error, "port-security", place.line,
            "port \(port) speaks STARTTLS, but the account starts with implicit TLS: the handshake fails",
            fix: syntax.securityLine(.starttls, port: port), action: place.action)
      }
    }

    // TLS off: the password and mail cross the network in clear (loopback, e.g. a local bridge, is a warning).
    if account.security == .plain, account.tunnel == nil {
      let loopback = host.map { Endpoint(proto: account.proto, host: $0, port: port, security: .plain).isLoopback } ?? false
      let wanted: TransportSecurity = port == (account.proto == .smtp ? 465 : 993) ? .tls : .starttls
      var place = account.placement(of: account.securityLine?.line)
      var fix = syntax.securityLine(wanted, port: port, turningOn: true)
      if account.client == .aerc, account.proto == .smtp, wanted == .starttls, !(account.authMethod?.value == "insecure") {
        // aerc 0.14's smtp:// is clear text unless told to STARTTLS (with the one word it reads).
        fix = "smtp-starttls = yes"
        place.action = .insertAfter
      }
      if let ignored = account.ignoredOption {
        add(.error, "aerc-starttls-value", ignored.line,
            "aerc 0.14 reads only `smtp-starttls = yes`; `\(ignored.value)` counts as unset: aerc then refuses a server that offers STARTTLS and sending stops after EHLO without a message",
            fix: "smtp-starttls = yes", action: .replace)
      } else {
        add(loopback ? .warning : .error, "tls-off", place.line,
            "TLS is off: the password and mail cross the network in clear", fix: fix, action: place.action)
      }
    }
    if let off = account.certificateCheckOff {
      let place = account.placement(of: off.line)
      add(.error, "certificate-check-off", place.line,
          "certificate checking is off: anyone on the path can read the password", fix: syntax.certificateCheckLine, action: place.action)
    }
    if let optional = account.tlsOptional {
      add(.warning, "tls-optional", optional.line,
          "ssl_force_tls is off: a server (or anyone on the path) that hides STARTTLS gets the password in clear",
          fix: "set ssl_force_tls = yes", action: .replace)
    }

    // Retired host names and providers that no longer take a password.
    var provider: Provider? = nil
    if let host {
      if let replacement = outdatedHosts[host], let line = account.host?.line {
        let place = account.placement(of: line)
        add(.warning, "outdated-host", place.line, "\(host) is retired; the provider's server is \(replacement.host)",
            fix: syntax.hostLine(replacement.host), action: place.action)
        provider = Provider.named(replacement.provider)
      } else {
        provider = Provider.all.first { $0.smtp.host == host || $0.imap.host == host }
        // Outlook.com and Microsoft 365 share outlook.office365.com: the address tells them apart.
        if provider?.id == "outlook.com", host == provider?.imap.host, !isMicrosoftPersonal(account.user?.value) {
          provider = Provider.named("office365")
        }
      }
    }
    let usesOAuth = account.authMethod.map { $0.value.contains("xoauth2") || $0.value.contains("oauthbearer") } ?? false
    if let provider, provider.basicAuthDisabled, !usesOAuth {
      let place = account.placement(of: account.authMethod?.line)
      add(.error, "auth-method", place.line,
          "\(provider.name) refuses passwords and app passwords for SMTP/IMAP since 16 Sept 2024: OAuth2 is needed "
            + "(`\(command: .authorize(mailcredAccountName(for: account.name), .provider(provider.id)))`)",
          fix: syntax.oauthLine, action: place.action)
    }

    // A `secret-tool lookup` command: another program's keyring item, which `import` copies into mailcred.
    if let foreign = ForeignSecrets.source(of: account), foreign.kind == .secretTool, let line = foreign.line {
      add(.info, "foreign-keyring-item", line,
          "the password comes from `secret-tool lookup` (another program's keyring item): `\(command: .import(account.path))` stores it as a checked mailcred credential, leaves the item in place",
          fix: ForeignSecrets.commandLine(for: account, name: mailcredAccountName(for: account.name), file: file, at: line).trimmingCharacters(in: [" ", "\t"]))
    }

    if let foreign = ForeignSecrets.source(of: account), foreign.kind == .gitLibsecret {
      add(.info, "foreign-keyring-item", account.line,
          "git's credential helper libsecret keeps this password: `\(command: .import("git"))` stores it as a checked mailcred credential, leaves libsecret's item in place, and adds a [credential \"smtp://\(account.host?.value ?? "HOST"):\(account.effectivePort)\"] section naming mailcred")
    }

    // Where the secret is.
    if let plaintext = account.plaintext, let home = plaintext.path == file.path ? file : files[plaintext.path] {
      let owner = ClientAccount.owner(of: plaintext, default: account)
      // The very line `mailcred import` would write.
      let planned = ImportPlan.item(plaintext, owner: owner, user: account.name, file: home)
      out.append(Finding(
        .error, "plaintext-secret", client: account.client, account: account.name, path: plaintext.path, line: plaintext.line,
        ("plaintext \(plaintext.keyword) in the file (`\(command: .import(plaintext.path))` moves it into the keyring)"
          + Advice(planned.insertedLine.map { " and add after it: \($0.trimmingCharacters(in: [" ", "\t"]))" } ?? ""))
          .spelled(by: context.speller),
        fix: planned.replacementLine, action: .replace))
      let secret = plaintext.secret(in: home)
      let (first, last) = secret.withUnsafeBytes { ($0.first, $0.last) }
      if let first, let last, MsmtpSyntax.isBlank(first) || MsmtpSyntax.isBlank(last) {
        add(.warning, "secret-whitespace", plaintext.line, "the \(plaintext.keyword) starts or ends with white space (a pasted space?)", path: plaintext.path)
      }
      secret.wipe()
      if let facts = context.files[plaintext.path] {
        if facts.mode & 0o077 != 0 {
          add(.error, "file-mode", nil, "holds a plaintext secret and is readable by others (mode \(String(facts.mode & 0o777, radix: 8))): chmod 600 \(plaintext.path)", path: plaintext.path)
        }
        if facts.inGitWorkTree {
          add(.error, "file-in-git", nil, "holds a plaintext secret and lies inside a git work tree: one `git add` publishes it", path: plaintext.path)
        }
      }
    } else if let command = account.passwordCommand, let name = account.mailcredAccount {
      out += referenceFindings(account, command: command, name: name, context: context, syntax: syntax, file: file)
    } else if account.usesMailcredHelper, context.storeReadable, let endpoint = ImportPlan.endpoint(of: account) {
      // git's helper finds the credential by server and user, not by name.
      let user = account.user?.value
      let match = context.credentials.first { c in
        c.smtp.map { $0.host.lowercased() == endpoint.host.lowercased() && $0.port == endpoint.port } == true && (user == nil || c.user == user)
      }
      if let match {
        out += referenceFindings(account, command: Setting(match.account, path: account.path, line: account.line), name: match.account, context: context, syntax: syntax, file: file)
      } else {
        add(.error, "missing-credential", account.line,
            "git's credential helper is mailcred, but no stored credential is for \(user ?? "any user") on \(endpoint.hostAndPort) (`\(command: .init(.add, "NAME", [.user("USER"), .server(.smtp, endpoint.hostAndPort)]))`)")
      }
    }
    return out
  }

  /// A `mailcred get NAME` that names nothing, the wrong user or host, or a credential that stopped working.
  static func referenceFindings(_ account: ClientAccount, command: Setting<String>, name: String, context: DoctorContext, syntax: LineSyntax, file: ConfigFile) -> [Finding] {
    var out: [Finding] = []
    guard context.storeReadable else { return out }
    func add(_ severity: Finding.Severity, _ code: String, _ advice: Advice) {
      out.append(Finding(severity, code, client: account.client, account: account.name, path: command.path, line: command.line, advice.spelled(by: context.speller)))
    }
    guard let credential = context.credentials.first(where: { $0.account == name && $0.state == .current }) else {
      add(.error, "missing-credential", "`\(command: .get(name))` names no stored credential (`\(command: .list)`; `\(command: .init(.add, name)) ...`)")
      return out
    }
    if let user = account.user?.value, user != credential.user {
      add(.error, "user-mismatch", "the client logs in as \(user) but mailcred's \(name) is for \(credential.user)")
    }
    let stored = account.proto == .smtp ? credential.smtp : credential.imap
    if let host = account.host?.value, let stored, stored.host.lowercased() != host.lowercased() {
      add(.warning, "host-mismatch", "the client connects to \(host) but mailcred's \(name) was checked against \(stored.host)")
    }
    if case .expired(let days) = ExpiryStatus(expires: credential.expires, now: context.now) {
      add(.error, "credential-expired", "mailcred's \(name) expired \(days) days ago (`\(command: .rotate(name))`)")
    }
    if let result = credential.checkResult, let verdict = CheckClass(rawValue: result), verdict.isRejection {
      add(.error, "credential-rejected", "mailcred's \(name) was last rejected by the server (\(result)); `\(command: .check(name))`")
    }
    if credential.kind == .oauth2, account.authMethod.map({ !$0.value.contains("xoauth2") && !$0.value.contains("oauthbearer") }) ?? true {
      add(.error, "auth-method", "mailcred's \(name) is an OAuth2 token: the client must use XOAUTH2 (\(syntax.oauthLine))")
    }
    return out
  }

  /// mbsync option spellings the installed isync does not know (`TLSType` arrived in 1.5, which still
  /// reads `SSLType` but calls it obsolete).
  public static func optionFindings(_ config: MbsyncConfig, file: ConfigFile, version: (Int, Int)?) -> [Finding] {
    guard let version else { return [] }
    let modern = version >= (1, 5)
    return config.optionSpellings.compactMap { spelling in
      let lower = spelling.value.lowercased()
      let isOld = lower.hasPrefix("ssl")
      guard isOld == modern else { return nil }
      let renamed = (isOld ? "TLS" : "SSL") + spelling.value.dropFirst(3)
      // The same line with only the keyword renamed (these lines never hold a secret).
      let bytes = file.lines[spelling.line - 1].bytes
      let tokens = MbsyncSyntax.tokens(bytes)
      let fixed = tokens.first.map { String(decoding: bytes[..<$0.range.lowerBound], as: UTF8.self) + renamed + String(decoding: bytes[$0.range.upperBound...], as: UTF8.self) }
      return Finding(
        modern ? .warning : .error, "mbsync-option", client: .mbsync, path: spelling.path, line: spelling.line,
        modern ? "\(spelling.value) is obsolete in isync \(version.0).\(version.1); it is now \(renamed)"
          : "isync \(version.0).\(version.1) does not know \(spelling.value) (it arrived in 1.5): mbsync refuses the file",
        fix: fixed.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }, action: .replace)
    }
  }

  /// Reader problems (unknown parent, unclosed quote, `eval`).
  public static func problemFindings(_ problems: [Setting<String>], client: MailClient) -> [Finding] {
    problems.map { problem in
      let severity: Finding.Severity = problem.value.contains("refuses") ? .error : .warning
      return Finding(severity, "syntax", client: client, path: problem.path, line: problem.line, problem.value)
    }
  }
}

extension Doctor {
  /// Every account of one file and every finding about it, an inherited line reported once.
  public static func check(_ file: ConfigFile, client: MailClient, context: DoctorContext, loader: (String) -> ConfigFile? = { _ in nil }) -> (accounts: [ClientAccount], findings: [Finding]) {
    let (accounts, files) = ClientConfig.read(file, client: client, loader: loader)
    var findings: [Finding] = []
    switch client {
    case .msmtp: findings += problemFindings(MsmtpConfig(file).problems, client: client)
    case .neomutt: findings += problemFindings(NeomuttConfig(file, loader: loader).problems, client: client)
    case .mbsync:
      let config = MbsyncConfig(file)
      findings += problemFindings(config.problems, client: client)
      findings += optionFindings(config, file: file, version: context.mbsyncVersion)
    default: break
    }
    return check(accounts: accounts, files: files, context: context, findings: findings)
  }

  /// The findings of accounts already read (git's come from `git config`, not from one file).
  public static func check(accounts: [ClientAccount], files: [String: ConfigFile], context: DoctorContext, findings earlier: [Finding] = []) -> (accounts: [ClientAccount], findings: [Finding]) {
    var findings = earlier
    for account in accounts {
      guard let file = files[account.path] else { continue }
      findings += Self.findings(for: account, file: file, files: files, context: context)
    }
    var seen: [Finding] = []
    for finding in findings {
      var key = finding
      key.account = nil
      if !seen.contains(where: { var other = $0; other.account = nil; return other == key }) { seen.append(finding) }
    }
    return (accounts, seen.sorted { ($0.path, $0.line ?? 0) < ($1.path, $1.line ?? 0) })
  }
}

/// The accounts of a file, whichever client it belongs to.
public enum ClientConfig {
  public static func accounts(in file: ConfigFile, client: MailClient, loader: (String) -> ConfigFile? = { _ in nil }) -> [ClientAccount] {
    read(file, client: client, loader: loader).accounts
  }

  /// The accounts and every file they were read from (neomutt follows `source`).
  public static func read(_ file: ConfigFile, client: MailClient, loader: (String) -> ConfigFile?) -> (accounts: [ClientAccount], files: [String: ConfigFile]) {
    switch client {
    case .msmtp: return (MsmtpConfig(file).accounts, [file.path: file])
    case .git: return ([], [file.path: file])  // read through `git config`: GitSendemailConfig
    case .aerc: return (AercConfig(file).accounts, [file.path: file])
    case .mbsync: return (MbsyncConfig(file).accounts, [file.path: file])
    case .neomutt:
      let config = NeomuttConfig(file, loader: loader)
      return (config.accounts, config.files)
    }
  }
}

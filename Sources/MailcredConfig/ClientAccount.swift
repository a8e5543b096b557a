import MailcredCore

/// The mail programs whose configuration mailcred reads.
public enum MailClient: String, Sendable, CaseIterable, Codable {
  case msmtp, mbsync, neomutt, aerc, git
}

/// A value read from a file, with the line it came from (1-based), so a finding can say `file:line`.
public struct Setting<Value: Sendable & Equatable>: Sendable, Equatable {
  public var value: Value
  public var path: String
  public var line: Int

  public init(_ value: Value, path: String, line: Int) {
    self.value = value
    self.path = path
    self.line = line
  }
}

/// A plaintext secret in a file: where it is, never what it is. The bytes are read out of the file on
/// demand, straight into a `SecretBytes`, so no `String` ever holds them.
public struct PlaintextSecret: Sendable, Equatable {
  public var path: String
  public var line: Int
  /// The keyword that holds it (`password`, `Pass`, `smtp_pass`, ...), for messages.
  public var keyword: String
  /// The secret's raw bytes within the line (quotes included; `unquote` removes them).
  public var range: Range<Int>
  public var quoting: Quoting
  /// The client account whose section holds the line (for msmtp's `defaults`, the first account that
  /// uses it): the mailcred account `import` stores it as.
  public var owner: String = ""

  public enum Quoting: Sendable, Equatable {
    /// msmtp: a leading and a trailing `"` are removed, nothing else is special.
    case msmtp
    /// mbsync: `"` toggles quoting, `\` escapes the next byte.
    case mbsync
    /// The bytes as they are.
    case raw
    /// neomutt: `"..."` with escapes, `'...'` literal.
    case mutt
    /// The password part of a URL's userinfo: percent-decoded.
    case url
    /// git config: `"` toggles quoting, `\` escapes.
    case git
  }

  /// The secret as the client would send it.
  public func secret(in file: ConfigFile) -> SecretBytes {
    let raw = Array(file.lines[line - 1].bytes[range])
    switch quoting {
    case .raw: return SecretBytes(taking: raw)
    case .url: return SecretBytes(taking: percentDecodedBytes(raw))
    case .git:
      var copy = raw
      defer { wipe(&copy) }
      return SecretBytes(taking: GitSyntax.decode(copy[...]))
    case .mutt:
      var copy = raw
      defer { wipe(&copy) }
      return SecretBytes(taking: MuttSyntax.tokens(copy).first?.value ?? [])
    case .msmtp: return SecretBytes(taking: MsmtpSyntax.unquote(raw))
    case .mbsync:
      var copy = raw
      defer { wipe(&copy) }
      return SecretBytes(taking: MbsyncSyntax.tokens(copy).first?.value ?? [])
    }
  }
}

/// One account of one client, reduced to what the checks need: endpoint, user, TLS settings, where its
/// secret comes from. Every field remembers its line.
public struct ClientAccount: Sendable, Equatable {
  public var client: MailClient
  public var name: String
  public var path: String
  /// The line that starts the account (`account work`, `IMAPAccount work`, ...).
  public var line: Int
  public var proto: MailProtocol

  public var host: Setting<String>?
  public var port: Setting<Int>?
  public var user: Setting<String>?
  /// The effective transport security and the line that decided it (nil line: the client's default).
  public var security: TransportSecurity
  public var securityLine: Setting<String>?
  /// Certificate verification off (msmtp `tls_certcheck off`, mbsync `CertificateFile` absent is fine).
  public var certificateCheckOff: Setting<String>?
  /// The CA file the client trusts (msmtp `tls_trust_file`, mbsync `CertificateFile`).
  public var caFile: String?
  /// `auth` / `AuthMechs`, lower-cased.
  public var authMethod: Setting<String>?
  public var plaintext: PlaintextSecret?
  /// `passwordeval` / `PassCmd` / `*-cred-cmd` / backticks: the command that yields the secret.
  public var passwordCommand: Setting<String>?
  /// mbsync `Tunnel`: no network endpoint to check.
  public var tunnel: Setting<String>?
  /// The port the client uses when none is configured (msmtp: 25, or 465 with implicit TLS).
  public var defaultPort: Int = 0
  /// neomutt: the variable holding the account's URL (`smtp_url`, `folder`, `spoolfile`).
  public var urlKey: String?
  /// neomutt `ssl_force_tls = no` with STARTTLS: a server that hides STARTTLS gets the password in clear.
  public var tlsOptional: Setting<String>?
  /// aerc 0.14 `smtp-starttls` with a value other than `yes` (which it treats as unset).
  public var ignoredOption: Setting<String>?
  /// The last line of the account's own section: a setting outside `line...sectionEnd` was inherited.
  public var sectionEnd: Int = 0

  /// Where to put a fix for a setting read from `settingLine`: on that line when the account's own
  /// section holds it, else after the account's first line (changing `defaults` would change others too).
  public func placement(of settingLine: Int?) -> (line: Int, action: Finding.FixAction) {
    // neomutt has no sections and git's values come from anywhere: a value is fixed where it is set.
    if client == .neomutt || client == .git || client == .aerc, let settingLine { return (settingLine, .replace) }
    // aerc's port, security and mechanism all live in the URL: that line is the one to change.
    if client == .aerc, let urlLine = host?.line { return (urlLine, .replace) }
    if let settingLine, (line...max(line, sectionEnd)).contains(settingLine) { return (settingLine, .replace) }
    return (line, .insertAfter)
  }

  public init(client: MailClient, name: String, path: String, line: Int, proto: MailProtocol, security: TransportSecurity) {
    self.client = client
    self.name = name
    self.path = path
    self.line = line
    self.proto = proto
    self.security = security
  }

  /// The port the client actually connects to: the configured one, or its default for the security.
  public var effectivePort: Int {
    if let port { return port.value }
    return defaultPort != 0 ? defaultPort : Endpoint.defaultPort(for: proto, security: security)
  }

  /// The account a plaintext line is stored as: its owner when that is a different account (msmtp
  /// inheritance), else `account` itself. The owner's settings are not at hand here, only its name.
  static func owner(of plaintext: PlaintextSecret, default account: ClientAccount) -> ClientAccount {
    var owner = account
    if !plaintext.owner.isEmpty { owner.name = plaintext.owner }
    return owner
  }

  /// The mailcred account a `mailcred get NAME` password command names, if it does.
  public var mailcredAccount: String? { passwordCommand.flatMap { MailcredCommand.account(in: $0.value) } }

  /// git: the credential helper is mailcred's (`mailcred`, `!mailcred credential-helper`, a path).
  public var usesMailcredHelper: Bool {
    guard client == .git, let helper = passwordCommand?.value else { return false }
    let word = helper.split(separator: " ").first.map(String.init) ?? ""
    return word == "mailcred" || word == "!mailcred" || word.hasSuffix("git-credential-mailcred") || word.hasSuffix("/mailcred")
  }
}

/// Recognises the commands mailcred writes (`mailcred get NAME`, with or without a path, `+` prefix or
/// quotes around it) inside a client's password command.
public enum MailcredCommand {
  public static func account(in command: String) -> String? {
    var words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    if let first = words.first, first.hasPrefix("+") { words[0].removeFirst() }
    words = words.map { $0.trimmingCharacters(in: ["\"", "'", "`"]) }.filter { !$0.isEmpty }
    guard words.count >= 3 else { return nil }
    let program = words[words.count - 3]
    guard program == "mailcred" || program.hasSuffix("/mailcred"), words[words.count - 2] == "get" else { return nil }
    return words[words.count - 1]
  }

  /// The command mailcred writes into a config: a name from `mailcredAccountName` needs no quoting.
  public static func get(_ account: String) -> String { "mailcred get \(account)" }
}

extension String {
  func trimmingCharacters(in set: Set<Character>) -> String {
    var s = Substring(self)
    while let c = s.first, set.contains(c) { s.removeFirst() }
    while let c = s.last, set.contains(c) { s.removeLast() }
    return String(s)
  }
}

/// A mailcred account name for a client's account name: letters, digits and `._@+-` kept, anything else
/// (spaces, quotes, slashes) turned into `-`, so the name goes into a shell command without quoting.
public func mailcredAccountName(for clientName: String) -> String {
  var out = ""
  for scalar in clientName.unicodeScalars {
    let ok = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
      || "._@+-".unicodeScalars.contains(scalar)
    out.unicodeScalars.append(ok ? scalar : "-")
  }
  while out.hasPrefix("-") { out.removeFirst() }
  if out.isEmpty { out = "imported" }
  return String(out.prefix(128))
}

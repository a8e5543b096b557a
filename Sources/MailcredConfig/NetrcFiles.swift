import MailcredCore

/// Plaintext mail passwords in the files many tools share: `~/.netrc` and `~/.authinfo` (`machine HOST
/// login USER password PASS [port P]`, msmtp's and Emacs' fallback) and `~/.git-credentials`
/// (`scheme://user:pass@host[:port]`, git's store helper). Only entries for mail servers are reported.
/// None of these formats can call a command: `import` of a netrc/authinfo file stores the password and then
/// removes only its `password VALUE` pair (README "netrc and authinfo" says why: no comment is written, and
/// the `machine`/`login`/`port` words stay for every other reader); git-credentials are not rewritten.
public enum NetrcFiles {
  public struct Entry: Sendable, Equatable {
    public var host: String
    public var user: String?
    public var port: Int?
    public var line: Int
  }

  static let mailPorts: Set<Int> = [25, 465, 587, 143, 993]

  /// Whether a host (and port) is a mail server: a provider preset's, a mail-ish name, or a mail port.
  public static func isMailServer(_ host: String, port: Int?) -> Bool {
    let lower = host.lowercased()
    if let port, mailPorts.contains(port) { return true }
    if Provider.all.contains(where: { $0.smtp.host == lower || $0.imap.host == lower }) || outdatedHosts[lower] != nil { return true }
    return ["smtp", "imap", "mail", "submission"].contains { lower.hasPrefix($0 + ".") || lower.hasPrefix($0 + "-") }
  }

  /// netrc/authinfo entries that carry a password, with the line their password sits on.
  public static func netrcEntries(_ file: ConfigFile) -> [Entry] { netrcSecrets(file).map(\.entry) }

  /// A password of a mail server's netrc/authinfo entry: where its value is, and what to cut to remove it.
  public struct Secret: Sendable, Equatable {
    public var entry: Entry
    /// The value's bytes (quotes included), for `SecretBytes` and for `import --undo`.
    public var plaintext: PlaintextSecret
    /// The blanks before `password`, the keyword, the blanks and the value: removing them leaves the entry
    /// (`machine`, `login`, `port`) as every other reader of the file knows it.
    public var removal: Range<Int>
  }

  /// Every mail server's entry with a password (never `default`), with its password's place.
  public static func netrcSecrets(_ file: ConfigFile) -> [Secret] {
    var found: [Secret] = []
    var current: Entry? = nil
    var password: (plaintext: PlaintextSecret, removal: Range<Int>)? = nil
    func flush() {
      if let entry = current, let password { found.append(Secret(entry: entry, plaintext: password.plaintext, removal: password.removal)) }
      current = nil
      password = nil
    }
    for (index, line) in file.lines.enumerated() {
      let tokens = MbsyncSyntax.tokens(line.bytes)
      var i = 0
      while i < tokens.count {
        let word = String(decoding: tokens[i].value, as: UTF8.self)
        let next = i + 1 < tokens.count && !["password", "passwd"].contains(word) ? String(decoding: tokens[i + 1].value, as: UTF8.self) : ""
        switch word {
        case "machine", "default":
          flush()
          current = Entry(host: word == "default" ? "default" : next, user: nil, port: nil, line: index + 1)
          i += word == "machine" ? 2 : 1
        case "login", "user", "account":
          current?.user = next
          i += 2
        case "port", "protocol":
          current?.port = Int(next) ?? (["smtp": 25, "submission": 587, "smtps": 465, "imap": 143, "imaps": 993][next])
          i += 2
        case "password", "passwd":
          // An unterminated quote: what the secret is would be a guess; doctor still reports the entry.
          if current != nil, i + 1 < tokens.count, !tokens[i + 1].unterminated {
            current?.line = index + 1
            var start = tokens[i].range.lowerBound
            while start > 0, MsmtpSyntax.isBlank(line.bytes[start - 1]) { start -= 1 }
            let value = tokens[i + 1].range
            // At the start of its line, the blanks after the value go instead of those before it.
            var end = value.upperBound
            if start == 0 { while end < line.bytes.count, MsmtpSyntax.isBlank(line.bytes[end]) { end += 1 } }
            password = (PlaintextSecret(path: file.path, line: index + 1, keyword: word, range: value, quoting: .mbsync, owner: current?.host ?? ""),
                        start..<end)
          }
          i += 2
        default: i += 1
        }
      }
    }
    flush()
    return found.filter { $0.entry.host != "default" && isMailServer($0.entry.host, port: $0.entry.port) }
  }

  /// The mail account an entry stands for: its host, login and port (authinfo's `port`), the security the
  /// port implies, and without a port the provider's preset or submission (587, STARTTLS); `imap.*` hosts
  /// without a port are IMAP on 993.
  public static func account(for secret: Secret) -> ClientAccount? {
    let entry = secret.entry
    guard let user = entry.user, !user.isEmpty else { return nil }
    let host = entry.host.lowercased()
    let endpoint: Endpoint
    if let port = entry.port {
      let imap = port == 143 || port == 993
      let security: TransportSecurity = port == 465 || port == 993 ? .tls : .starttls
      endpoint = Endpoint(proto: imap ? .imap : .smtp, host: entry.host, port: port, security: security)
    } else if let preset = Provider.all.first(where: { $0.smtp.host == host || $0.imap.host == host }) {
      endpoint = preset.smtp.host == host ? preset.smtp : preset.imap
    } else if host.hasPrefix("imap.") || host.hasPrefix("imap-") {
      endpoint = Endpoint(proto: .imap, host: entry.host, port: 993, security: .tls)
    } else {
      endpoint = Endpoint(proto: .smtp, host: entry.host, port: 587, security: .starttls)
    }
    var account = ClientAccount(client: .msmtp, name: user, path: secret.plaintext.path, line: entry.line, proto: endpoint.proto, security: endpoint.security)
    account.host = Setting(endpoint.host, path: secret.plaintext.path, line: entry.line)
    account.port = Setting(endpoint.port, path: secret.plaintext.path, line: entry.line)
    account.user = Setting(user, path: secret.plaintext.path, line: entry.line)
    return account
  }

  /// The password's line with its `password VALUE` pair cut out (every other byte kept).
  public static func lineWithoutPassword(_ secret: Secret, in file: ConfigFile) -> String {
    var bytes = file.lines[secret.plaintext.line - 1].bytes
    bytes.removeSubrange(secret.removal)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// `.git-credentials` lines for mail servers (smtp/imap URLs, or mail hosts) that hold a password.
  public static func gitCredentialEntries(_ file: ConfigFile) -> [Entry] {
    file.lines.enumerated().compactMap { index, line in
      guard let url = MailURL(line.bytes), url.passwordRange != nil else { return nil }
      let mailScheme = ["smtp", "smtps", "imap", "imaps", "submission"].contains(url.scheme)
      guard mailScheme || isMailServer(url.host, port: url.port) else { return nil }
      return Entry(host: url.host, user: url.user, port: url.port, line: index + 1)
    }
  }

  /// One error finding per entry: where, for whom, and what to do instead.
  /// `speller` writes the commands they suggest.
  public static func findings(
    _ entries: [Entry], path: String, facts: DoctorContext.FileFacts?, importable: Bool = false, speller: some AdviceSpeller
  ) -> [Finding] {
    var out = entries.map { entry in
      let who: Advice = "plaintext password for \(entry.user ?? "a user") on \(entry.host)\(entry.port.map { ":\($0)" } ?? "")"
      // netrc/authinfo: import moves it (only the password pair goes); git-credentials: by hand.
      return Finding(
        .error, "plaintext-secret", path: path, line: entry.line,
        (importable && entry.user != nil
          ? who + ": `\(command: .import(path))` stores it (checked live) and removes only its `password` pair; machine and login stay"
          : who + ": store it with `\(command: .init(.add, "NAME", [.user(entry.user ?? "USER"), .server(.smtp, entry.host)]))` "
            + "(or \(option: .server(.imap, nil))), point the client at mailcred, then delete this entry").spelled(by: speller))
    }
    if !entries.isEmpty, let facts {
      if facts.mode & 0o077 != 0 {
        out.append(Finding(.error, "file-mode", path: path, line: nil, "holds a plaintext secret and is readable by others (mode \(String(facts.mode & 0o777, radix: 8))): chmod 600 \(path)"))
      }
      if facts.inGitWorkTree {
        out.append(Finding(.error, "file-in-git", path: path, line: nil, "holds a plaintext secret and lies inside a git work tree: one `git add` publishes it"))
      }
    }
    return out
  }
}

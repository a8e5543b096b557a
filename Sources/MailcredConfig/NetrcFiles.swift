import MailcredCore

/// Plaintext mail passwords in the files many tools share: `~/.netrc` and `~/.authinfo` (`machine HOST
/// login USER password PASS [port P]`, msmtp's and Emacs' fallback) and `~/.git-credentials`
/// (`scheme://user:pass@host[:port]`, git's store helper). Only entries for mail servers are reported;
/// nothing here is rewritten (none of these formats can call a command).
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
  public static func netrcEntries(_ file: ConfigFile) -> [Entry] {
    var entries: [Entry] = []
    var current: Entry? = nil
    var hasPassword = false
    func flush() {
      if let entry = current, hasPassword { entries.append(entry) }
      current = nil
      hasPassword = false
    }
    for (index, line) in file.lines.enumerated() {
      // Words, with the value after `password` never turned into text.
      var words: [(text: String, isSecret: Bool)] = []
      var expectSecret = false
      for token in MbsyncSyntax.tokens(line.bytes) {
        if expectSecret { words.append(("", true)); expectSecret = false; continue }
        let text = String(decoding: token.value, as: UTF8.self)
        words.append((text, false))
        if text == "password" || text == "passwd" { expectSecret = true }
      }
      var i = 0
      while i < words.count {
        let word = words[i].text
        let next = i + 1 < words.count ? words[i + 1].text : ""
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
          hasPassword = current != nil
          current?.line = index + 1
          i += 2
        default: i += 1
        }
      }
    }
    flush()
    return entries.filter { isMailServer($0.host, port: $0.port) }
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
  public static func findings(_ entries: [Entry], path: String, facts: DoctorContext.FileFacts?) -> [Finding] {
    var out = entries.map { entry in
      Finding(
        .error, "plaintext-secret", path: path, line: entry.line,
        "plaintext password for \(entry.user ?? "a user") on \(entry.host)\(entry.port.map { ":\($0)" } ?? ""): store it with "
          + "`mailcred add NAME --user \(entry.user ?? "USER") --smtp \(entry.host)` (or --imap), point the client at mailcred, then delete this entry")
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

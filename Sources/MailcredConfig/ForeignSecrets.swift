import MailcredCore

/// A client account whose secret another program keeps in the Secret Service: msmtp's own lookup (no
/// `password`/`passwordeval`: msmtp asks libsecret for host/service=smtp/user, what `secret-tool store
/// --label=x host H service smtp user U` makes), a `secret-tool lookup ATTR VALUE...` password command, or
/// git's credential helper libsecret (git 2.39's items: schema org.gnome.keyring.NetworkPassword, newer
/// git's org.git.Password; both with protocol, server, port, user). `import` finds the item by these
/// attributes, stores its secret as a mailcred credential, and leaves the item itself in place.
public struct ForeignSource: Sendable, Equatable {
  public enum Kind: String, Sendable {
    case msmtpLookup = "msmtp's own keyring item"
    case secretTool = "the item `secret-tool lookup` reads"
    case gitLibsecret = "git-credential-libsecret's item"
  }

  public var kind: Kind
  /// The attributes the item must have (all of them).
  public var query: [String: String]
  /// The line whose password command is replaced; nil: a line is added after `after`.
  public var line: Int?
  public var after: Int

  public init(kind: Kind, query: [String: String], line: Int?, after: Int) {
    self.kind = kind
    self.query = query
    self.line = line
    self.after = after
  }
}

public enum ForeignSecrets {
  /// Where `account`'s secret sits in another program's keyring item, if it does.
  public static func source(of account: ClientAccount) -> ForeignSource? {
    guard account.plaintext == nil, let host = account.host?.value, !host.isEmpty else { return nil }
    if account.client == .git {
      // git send-email asks for protocol=smtp, host=SERVER[:PORT], username; libsecret stores the port apart.
      guard let helper = account.passwordCommand?.value, isLibsecretHelper(helper), let user = account.user?.value else { return nil }
      var query = ["protocol": "smtp", "server": host, "user": user]
      if let port = account.port?.value { query["port"] = String(port) }
      return ForeignSource(kind: .gitLibsecret, query: query, line: nil, after: account.line)
    }
    if let command = account.passwordCommand {
      guard let query = secretToolQuery(command.value) else { return nil }
      return ForeignSource(kind: .secretTool, query: query, line: command.line, after: command.line)
    }
    // msmtp without any password setting looks the password up itself (when built with libsecret).
    guard account.client == .msmtp, account.proto == .smtp, let user = account.user, account.authMethod?.value != "off" else { return nil }
    let after = (account.line...max(account.line, account.sectionEnd)).contains(user.line) ? user.line : account.line
    return ForeignSource(kind: .msmtpLookup, query: ["host": host, "service": "smtp", "user": user.value], line: nil, after: after)
  }

  /// git's `credential.helper = libsecret` (or the program's path, `!` or not).
  public static func isLibsecretHelper(_ helper: String) -> Bool {
    var word = helper.split(separator: " ").first.map(String.init) ?? ""
    if word.hasPrefix("!") { word.removeFirst() }
    return word == "libsecret" || word.hasSuffix("git-credential-libsecret")
  }

  /// git: the section that makes git ask mailcred, and only mailcred, for this server's password (an empty
  /// `helper =` clears the helpers configured before it, libsecret's among them).
  public static func gitHelperSection(host: String, port: Int) -> String {
    "[credential \"smtp://\(host):\(port)\"]\n\thelper =\n\thelper = mailcred\n"
  }

  /// The attributes of a password command that is exactly `secret-tool lookup NAME VALUE ...` (mbsync's `+`
  /// prefix, neomutt's backticks and a trailing `2>/dev/null` allowed; quotes as the shell takes them).
  /// Anything else — a pipe, `;`, `$`, a redirection, a glob, an odd word count — is nil: the command is
  /// never run, and one that does more than a lookup is not guessed at.
  public static func secretToolQuery(_ command: String) -> [String: String]? {
    var text = Substring(command)
    while let c = text.first, c == " " || c == "\t" { text.removeFirst() }
    if text.first == "+" { text.removeFirst() }
    if text.first == "`", text.last == "`", text.count >= 2 { text = text.dropFirst().dropLast() }
    guard var words = shellWords(String(text)) else { return nil }
    if words.last == "2>/dev/null" { words.removeLast() }
    guard words.count >= 4, words[0] == "secret-tool" || words[0].hasSuffix("/secret-tool"), words[1] == "lookup",
      words.count % 2 == 0
    else { return nil }
    var query: [String: String] = [:]
    for index in stride(from: 2, to: words.count, by: 2) {
      let name = words[index]
      guard !name.isEmpty, query[name] == nil else { return nil }
      query[name] = words[index + 1]
    }
    return query
  }

  /// Words as a POSIX shell splits a simple command: blanks separate, `'...'` is literal, `"..."` keeps
  /// `\"`, `\\`, `\$` and `` \` `` escapes, `\` outside quotes escapes the next character. nil when the
  /// text holds an unquoted operator or expansion (`|&;<>()$\`*?[~#` or `2>/dev/null` only as a whole word)
  /// or an unterminated quote.
  static func shellWords(_ text: String) -> [String]? {
    var words: [String] = []
    var current = ""
    var inWord = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
      switch c {
      case " ", "\t":
        if inWord { words.append(current); current = ""; inWord = false }
      case "'":
        inWord = true
        guard let end = chars.firstIndex(of: "'") else { return nil }
        current += String(chars[..<end])
        chars = chars[(end + 1)...]
      case "\"":
        inWord = true
        var closed = false
        while let d = chars.popFirst() {
          if d == "\"" { closed = true; break }
          if d == "$" || d == "`" { return nil }
          if d == "\\", let next = chars.first, "\"\\$`".contains(next) { current.append(chars.removeFirst()); continue }
          current.append(d)
        }
        guard closed else { return nil }
      case "\\":
        inWord = true
        guard let next = chars.popFirst() else { return nil }
        current.append(next)
      default:
        if "|&;<>()$`*?[~#".contains(c) {
          // The one redirection a lookup line commonly carries, as a whole word.
          if c == ">", current == "2", chars.starts(with: Array("/dev/null")),
            chars.dropFirst(9).first.map({ $0 == " " || $0 == "\t" }) ?? true
          {
            current += ">/dev/null"
            chars = chars.dropFirst(9)
            continue
          }
          return nil
        }
        inWord = true
        current.append(c)
      }
    }
    if inWord { words.append(current) }
    return words
  }

  /// Of the items found, the one to import: an unlocked one first (a locked one is unlocked on reading).
  public static func choose(_ items: [KeyringItem], for source: ForeignSource? = nil) -> KeyringItem? {
    let unlocked = items.filter { !$0.locked }
    let pool = unlocked.isEmpty ? items : unlocked
    // Without a port in the query, every port's item matches: prefer the one stored without a port.
    if source?.kind == .gitLibsecret, source?.query["port"] == nil { return pool.first { $0.attributes["port"] == nil } ?? pool.first }
    return pool.first
  }

  /// The line that makes the client ask mailcred instead, indented as line `at` is.
  public static func commandLine(for account: ClientAccount, name: String, file: ConfigFile, at line: Int) -> String {
    let syntax = LineSyntax(client: account.client, account: account)
    return syntax.indent(of: line, in: file) + syntax.commandLine(MailcredCommand.get(name))
  }
}

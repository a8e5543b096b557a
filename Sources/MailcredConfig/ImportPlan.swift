import MailcredCore

/// One plaintext secret `mailcred import` moves: the line, the account it is stored as, and the line
/// that replaces it.
public struct ImportItem: Sendable {
  public var plaintext: PlaintextSecret
  /// The account whose settings (user, host, port) the credential takes.
  public var account: ClientAccount
  /// The mailcred account name (from the client's account name).
  public var name: String
  /// The whole new line (no secret): msmtp and mbsync get the client's command line with the old
  /// indentation; neomutt keeps the rest of its line and only the value changes.
  public var replacementLine: String
  /// A line added after it (neomutt: `set smtp_pass = ...` when the password sat in the URL).
  public var insertedLine: String?
  /// Text added at the end of the file (git: the `[credential "smtp://HOST:PORT"]` helper section).
  public var appendedText: String?
  /// Every client account that uses the line (msmtp inheritance), for messages.
  public var users: [String]
}

public enum ImportPlan {
  /// Every plaintext secret of a file (and, for neomutt, of the files it sources), each line once.
  public static func items(in file: ConfigFile, client: MailClient, loader: (String) -> ConfigFile? = { _ in nil }) -> [ImportItem] {
    let (accounts, files) = ClientConfig.read(file, client: client, loader: loader)
    return items(accounts: accounts, files: files)
  }

  /// The plaintext secrets of accounts already read (git's).
  public static func items(accounts: [ClientAccount], files: [String: ConfigFile]) -> [ImportItem] {
    var items: [ImportItem] = []
    for account in accounts {
      guard let plaintext = account.plaintext, let home = files[plaintext.path] else { continue }
      if let index = items.firstIndex(where: { $0.plaintext.path == plaintext.path && $0.plaintext.line == plaintext.line }) {
        items[index].users.append(account.name)
        continue
      }
      // The owner is the account whose section holds the line (two accounts may share a name: aerc's
      // source and outgoing, neomutt's SMTP and IMAP).
      let owner = accounts.first { $0.name == plaintext.owner && $0.plaintext == plaintext } ?? account
      items.append(item(plaintext, owner: owner, user: account.name, file: home))
    }
    return items
  }

  static func item(_ plaintext: PlaintextSecret, owner: ClientAccount, user: String, file: ConfigFile) -> ImportItem {
    let name = mailcredAccountName(for: owner.name)
    let syntax = LineSyntax(client: owner.client, account: owner)
    let command = syntax.commandLine(MailcredCommand.get(name))
    let bytes = file.lines[plaintext.line - 1].bytes
    var line = syntax.indent(of: plaintext.line, in: file) + command
    var inserted: String? = nil
    if owner.client == .neomutt || owner.client == .aerc {
      // Only the secret's bytes go; every other byte of the line (other `set`s, comments) stays.
      let before = String(decoding: bytes[..<plaintext.range.lowerBound], as: UTF8.self)
      var after = String(decoding: bytes[plaintext.range.upperBound...], as: UTF8.self)
      if after.hasSuffix("\r") { after.removeLast() }
      if plaintext.quoting == .url {
        line = String(before.dropLast()) + after  // drops the ':' before the password too
        inserted = syntax.indent(of: plaintext.line, in: file) + command
      } else {
        line = before + "\"`\(MailcredCommand.get(name))`\"" + after
      }
    }
    var appended: String? = nil
    if owner.client == .git, let endpoint = endpoint(of: owner) {
      // git send-email asks its credential helper once smtpPass is gone: name mailcred for this server.
      appended = "[credential \"smtp://\(endpoint.hostAndPort)\"]\n\thelper = mailcred\n"
    }
    return ImportItem(plaintext: plaintext, account: owner, name: name, replacementLine: line, insertedLine: inserted, appendedText: appended, users: [user])
  }

  /// The file with the given items' lines replaced (and added) and every other byte as it was.
  public static func rewrite(_ file: ConfigFile, items: [ImportItem]) -> ConfigFile {
    var out = file
    // Bottom up, so an added line does not move the lines still to be replaced.
    for item in items.sorted(by: { $0.plaintext.line > $1.plaintext.line }) where item.plaintext.path == file.path {
      out.replace(line: item.plaintext.line, with: item.replacementLine)
      if let inserted = item.insertedLine { out.insert(inserted, after: item.plaintext.line) }
    }
    var appended: [String] = []
    for item in items where item.plaintext.path == file.path {
      if let text = item.appendedText, !appended.contains(text) { appended.append(text) }
    }
    for text in appended { out.append(text) }
    return out
  }

  /// The server the account authenticates against, as a mailcred endpoint (nil for a Tunnel or no host).
  public static func endpoint(of account: ClientAccount) -> Endpoint? {
    guard account.tunnel == nil, let host = account.host?.value, !host.isEmpty else { return nil }
    return Endpoint(proto: account.proto, host: host, port: account.effectivePort, security: account.security)
  }

  /// The provider preset whose servers the account uses.
  public static func provider(of account: ClientAccount) -> Provider? {
    guard let host = account.host?.value.lowercased() else { return nil }
    if let retired = outdatedHosts[host] { return Provider.named(retired.provider) }
    let found = Provider.all.first { $0.smtp.host == host || $0.imap.host == host }
    if found?.id == "outlook.com", host == found?.imap.host, !isMicrosoftPersonal(account.user?.value) {
      return Provider.named("office365")
    }
    return found
  }
}

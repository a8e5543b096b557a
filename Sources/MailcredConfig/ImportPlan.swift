import MailcredCore

/// One plaintext secret `mailcred import` moves: the line, the account it is stored as, and the line
/// that replaces it.
public struct ImportItem: Sendable {
  public var plaintext: PlaintextSecret
  /// The account whose settings (user, host, port) the credential takes.
  public var account: ClientAccount
  /// The mailcred account name (from the client's account name).
  public var name: String
  /// The whole new line: the old indentation and the client's command line (no secret).
  public var replacementLine: String
  /// Every client account that uses the line (msmtp inheritance), for messages.
  public var users: [String]
}

public enum ImportPlan {
  /// Every plaintext secret of a file, each line once.
  public static func items(in file: ConfigFile, client: MailClient) -> [ImportItem] {
    let accounts = ClientConfig.accounts(in: file, client: client)
    var items: [ImportItem] = []
    for account in accounts {
      guard let plaintext = account.plaintext else { continue }
      if let index = items.firstIndex(where: { $0.plaintext.line == plaintext.line }) {
        items[index].users.append(account.name)
        continue
      }
      let owner = accounts.first { $0.name == plaintext.owner } ?? account
      let name = mailcredAccountName(for: owner.name)
      let syntax = LineSyntax(client: client)
      items.append(ImportItem(
        plaintext: plaintext, account: owner, name: name,
        replacementLine: syntax.indent(of: plaintext.line, in: file) + syntax.commandLine(MailcredCommand.get(name)),
        users: [account.name]))
    }
    return items
  }

  /// The file with the given items' lines replaced and every other byte as it was.
  public static func rewrite(_ file: ConfigFile, items: [ImportItem]) -> ConfigFile {
    var out = file
    for item in items { out.replace(line: item.plaintext.line, with: item.replacementLine) }
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

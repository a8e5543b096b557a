import MailcredConfig
import MailcredCore
import MailcredSpelling

/// `import` for git send-email whose password git's credential helper libsecret keeps: the item becomes a
/// checked mailcred credential, and a `[credential "smtp://HOST:PORT"]` section (helper list cleared, then
/// mailcred) goes at the end of the file that holds the sendemail settings. libsecret's item stays.
extension Mailcred.Import {
  func importForeignGit(store: CredentialStore, tally: inout Tally) async {
    var git = GitSendemail.read()
    defer { for key in git.files.keys { git.files[key]?.file.wipe() } }
    var done: Set<String> = []
    for account in git.accounts {
      guard let found = ForeignSecrets.source(of: account), let endpoint = ImportPlan.endpoint(of: account),
        done.insert(endpoint.hostAndPort).inserted
      else { continue }
      let path = account.path
      let described = found.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
      let items: [KeyringItem]
      do { items = try store.keyring.searchForeign(found.query) } catch {
        Terminal.writeError("mailcred: \(path): \(error.text); left as it is")
        tally.failed(with: error.exitStatus)
        continue
      }
      guard let item = ForeignSecrets.choose(items, for: found) else {
        warn("\(path): git's helper is libsecret, but no keyring item has \(described): left as it is")
        continue
      }
      let name = mailcredAccountName(for: account.name)
      let section = ForeignSecrets.gitHelperSection(host: endpoint.host, port: endpoint.port)
      let shown = section.split(separator: "\n").joined(separator: " ")
      if dryRun {
        Terminal.writeOut("\(path): would store \(name) from \(found.kind.rawValue) (\(described)) and add at the end: \(shown)\n")
        tally.rewritten += 1
        continue
      }
      var loaded: ClientFiles.Loaded
      var replacement: ClientFiles.Replacement
      do {
        loaded = try ClientFiles.load(path)
        replacement = try ClientFiles.Replacement(for: path)
      } catch {
        Terminal.writeError("mailcred: \(error.description)")
        tally.failed(with: .configurationError)
        continue
      }
      defer { loaded.file.wipe() }
      let secret: SecretBytes
      do { secret = try store.keyring.secret(of: item) } catch {
        replacement.discard()
        Terminal.writeError("mailcred: \(path): \(error.text); left as it is")
        tally.failed(with: error.exitStatus)
        continue
      }
      defer { secret.wipe() }
      guard await storeVerified(secret, account: account, name: name, keyword: "secret of \(found.kind.rawValue)", location: path, store: store, tally: &tally)
      else {
        replacement.discard()
        continue
      }
      note("\(path): \(found.kind.rawValue) (\(described)) is left in the keyring as it was; mailcred's copy is \(name)")
      var rewritten = loaded.file
      rewritten.append(section)
      let first = loaded.file.lines.count + 1
      let entry = ImportJournal.Entry(
        path: replacement.target, line: first, written: rewritten.text(ofLine: first), prefix: "", suffix: "", quoted: false,
        client: MailClient.git.rawValue, account: name, appended: section, foreign: true)
      let record = { () throws(ConfigError) in try ImportJournal.record([entry]) }
      guard commit(rewritten, over: loaded, with: replacement, journal: record, unchanged: "the secret is stored; the file is as it was", tally: &tally)
      else { continue }
      tally.rewritten += 1
      Terminal.writeOut("\(path): added \(shown)\n")
    }
  }
}

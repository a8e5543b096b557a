import MailcredConfig
import MailcredCore
import MailcredSpelling

/// `import`'s second pass: secrets other programs keep in the Secret Service (msmtp's own lookup, a
/// `secret-tool lookup` password command). Each becomes a mailcred credential like a plaintext one (live
/// check, read back), the client's line then calls mailcred, and the other program's item stays where it is.
extension Mailcred.Import {
  func importForeign(_ source: ClientSources, store: CredentialStore, tally: inout Tally) async {
    guard source.client != .git, var loaded = try? ClientFiles.load(source.path) else { return }
    defer { loaded.file.wipe() }
    // Accounts of this file only (a neomutt file's sourced ones are read as their own sources when named).
    let accounts = ClientConfig.read(loaded.file, client: source.client, loader: { _ in nil }).accounts.filter { $0.path == loaded.file.path }
    var plans: [(ClientAccount, ForeignSource)] = []
    for account in accounts {
      guard let found = ForeignSecrets.source(of: account) else { continue }
      // aerc's source and outgoing may share one command: its line is changed once, for both.
      if plans.contains(where: { $0.1.line != nil && $0.1.line == found.line }) { continue }
      plans.append((account, found))
    }
    guard !plans.isEmpty else { return }
    let path = loaded.path
    let prepared = prepareReplacement(of: path, tally: &tally)
    if case .failed = prepared { return }
    let target = { if case .file(let file) = prepared { file.target } else { path } }()
    var edits: [ImportJournal.Entry] = []
    for (account, found) in plans {
      let location = "\(path):\(found.line ?? found.after)"
      let items: [KeyringItem]
      do { items = try store.keyring.searchForeign(found.query) } catch {
        Terminal.writeError("mailcred: \(location): \(error.text); left as it is")
        tally.failed(with: error.exitStatus)
        continue
      }
      let described = found.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
      guard let item = ForeignSecrets.choose(items) else {
        // msmtp without a password line may get it elsewhere (~/.netrc): only a named lookup is worth a word.
        if found.kind == .secretTool { warn("\(location): no keyring item has \(described): left as it is") }
        continue
      }
      let name = mailcredAccountName(for: account.name)
      let line = ForeignSecrets.commandLine(for: account, name: name, file: loaded.file, at: found.line ?? found.after)
      if dryRun {
        Terminal.writeOut("\(location): would store \(name) from \(found.kind.rawValue) (\(described)) and \(found.line == nil ? "add after it" : "write"): \(line)\n")
        tally.rewritten += 1
        continue
      }
      let secret: SecretBytes
      do { secret = try store.keyring.secret(of: item) } catch {
        Terminal.writeError("mailcred: \(location): \(error.text); left as it is")
        tally.failed(with: error.exitStatus)
        continue
      }
      defer { secret.wipe() }
      guard await storeVerified(secret, account: account, name: name, keyword: "secret of \(found.kind.rawValue)", location: location, store: store, tally: &tally)
      else { continue }
      note("\(location): \(found.kind.rawValue) (\(described)) is left in the keyring as it was; mailcred's copy is \(name)")
      if let replaced = found.line {
        edits.append(ImportJournal.Entry(
          path: target, line: replaced, written: line, prefix: "", suffix: "", quoted: false,
          client: account.client.rawValue, account: name, original: loaded.file.text(ofLine: replaced), foreign: true))
      } else {
        edits.append(ImportJournal.Entry(
          path: target, line: found.after + 1, written: line, prefix: "", suffix: "", quoted: false,
          client: account.client.rawValue, account: name, added: true, foreign: true))
      }
    }
    guard case .file(let replacement) = prepared else { return }
    guard !edits.isEmpty else { return replacement.discard() }
    var rewritten = loaded.file
    // Bottom up, so an added line does not move the lines still to be changed; the journal gets the
    // numbers as they are once every edit is made.
    var journal: [ImportJournal.Entry] = []
    for (index, edit) in edits.enumerated().sorted(by: { $0.element.line > $1.element.line }) {
      var entry = edit
      if entry.added == true { rewritten.insert(entry.written, after: entry.line - 1) } else { rewritten.replace(line: entry.line, with: entry.written) }
      let shift = edits.enumerated().filter { $0.offset != index && $0.element.added == true && $0.element.line <= edit.line }.count
      entry.line += shift
      journal.append(entry)
    }
    let record = { () throws(ConfigError) in try ImportJournal.record(journal) }
    guard commit(rewritten, over: loaded, with: replacement, journal: record, unchanged: "the secrets are stored; the file is as it was", tally: &tally)
    else { return }
    tally.rewritten += journal.count
    for entry in journal.sorted(by: { $0.line < $1.line }) { Terminal.writeOut("\(path):\(entry.line): \(entry.written)\n") }
  }
}

import MailcredConfig
import MailcredCore
import MailcredSpelling

/// `import ~/.netrc` / `~/.authinfo`: each mail server's password is stored as a checked mailcred credential
/// (named after the login), then only its `password VALUE` pair leaves the file; `machine`, `login` and
/// `port` stay, and no comment is written (ftp(1) and others read `#` as a word). msmtp, which falls back to
/// ~/.netrc and then to the keyring's host/service/user item, finds mailcred's item from then on.
extension Mailcred.Import {
  func importNetrc(_ path: String, store: CredentialStore, tally: inout Tally) async {
    if path.split(separator: "/").last?.contains("credentials") == true {
      note("\(path): git's store helper reads this file; its entries are reported by `mailcred doctor`, not imported")
      return
    }
    var loaded: ClientFiles.Loaded
    do { loaded = try ClientFiles.load(path) } catch {
      Terminal.writeError("mailcred: \(error.description)")
      return tally.failed(with: .configurationError)
    }
    defer { loaded.file.wipe() }
    let secrets = NetrcFiles.netrcSecrets(loaded.file)
    if secrets.isEmpty { return note("\(path): no mail server's password to import") }
    let prepared = prepareReplacement(of: path, tally: &tally)
    if case .failed = prepared { return }
    var moved: [NetrcFiles.Secret] = []
    for secret in secrets {
      let location = "\(loaded.path):\(secret.plaintext.line)"
      guard let account = NetrcFiles.account(for: secret) else {
        warn("\(location): the entry for \(secret.entry.host) has no login: left as it is")
        tally.skipped += 1
        continue
      }
      // One journal entry per line: a second password on a line already changed waits for the next run.
      if moved.contains(where: { $0.plaintext.line == secret.plaintext.line }) {
        warn("\(location): a second password on this line: run import again for it")
        continue
      }
      let name = mailcredAccountName(for: account.name)
      let endpoint = ImportPlan.endpoint(of: account)?.hostAndPort ?? secret.entry.host
      if dryRun {
        Terminal.writeOut("\(location): would store \(name) (\(account.user?.value ?? "") on \(endpoint)) and remove its password (machine and login stay)\n")
        tally.rewritten += 1
        continue
      }
      let bytes = secret.plaintext.secret(in: loaded.file)
      defer { bytes.wipe() }
      if await storeVerified(bytes, account: account, name: name, keyword: "password", location: location, store: store, tally: &tally) {
        moved.append(secret)
      }
    }
    guard case .file(let replacement) = prepared else { return }
    guard !moved.isEmpty else { return replacement.discard() }
    var rewritten = loaded.file
    var journal: [ImportJournal.Entry] = []
    for secret in moved {
      let line = loaded.file.lines[secret.plaintext.line - 1].bytes
      let written = NetrcFiles.lineWithoutPassword(secret, in: loaded.file)
      var suffix = Array(line[secret.plaintext.range.upperBound...])
      if suffix.last == 0x0d { suffix.removeLast() }
      let raw = line[secret.plaintext.range]
      journal.append(ImportJournal.Entry(
        path: replacement.target, line: secret.plaintext.line, written: written,
        prefix: String(decoding: line[..<secret.plaintext.range.lowerBound], as: UTF8.self), suffix: String(decoding: suffix, as: UTF8.self),
        quoted: raw.first == UInt8(ascii: "\"") && raw.count >= 2, client: "netrc", account: mailcredAccountName(for: secret.entry.user ?? "")))
      rewritten.replace(line: secret.plaintext.line, with: written)
    }
    defer { rewritten.wipe() }
    let record = { () throws(ConfigError) in try ImportJournal.record(journal) }
    guard commit(rewritten, over: loaded, with: replacement, journal: record, unchanged: "the secrets are stored and still in the file", tally: &tally)
    else { return }
    tally.rewritten += moved.count
    for secret in moved {
      Terminal.writeOut("\(loaded.path):\(secret.plaintext.line): password removed; \(secret.entry.host)'s machine and login stay\n")
    }
  }
}

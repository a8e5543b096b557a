import MailcredConfig
import MailcredCore

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
    var replacement: ClientFiles.Replacement? = nil
    if !dryRun {
      do { replacement = try ClientFiles.Replacement(for: path) } catch {
        Terminal.writeError("mailcred: \(error.description)")
        return tally.failed(with: .configurationError)
      }
    }
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
    guard let replacement else { return }
    guard !moved.isEmpty else { return replacement.discard() }
    guard var again = try? ClientFiles.load(path), again.file.bytes == loaded.file.bytes else {
      replacement.discard()
      Terminal.writeError("mailcred: \(path) changed during the import: not rewritten (the secrets are stored; run import again)")
      return tally.failed(with: .temporaryFailure)
    }
    again.file.wipe()
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
    do {
      try ImportJournal.record(journal)
      try replacement.commit(rewritten.bytes, mode: loaded.facts.mode)
    } catch {
      replacement.discard()
      Terminal.writeError("mailcred: \(error.description) (the secrets are stored and still in the file)")
      return tally.failed(with: .configurationError)
    }
    tally.files += 1
    tally.rewritten += moved.count
    for secret in moved {
      Terminal.writeOut("\(loaded.path):\(secret.plaintext.line): password removed; \(secret.entry.host)'s machine and login stay\n")
    }
  }
}

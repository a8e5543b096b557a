import ArgumentParser
import MailcredConfig
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Move plaintext passwords out of msmtp, mbsync, neomutt, aerc and git send-email configurations into the keyring.",
      discussion: """
        Each `password` (msmtp), `Pass` (mbsync) or `smtp_pass`/`imap_pass`/URL password (neomutt, aerc) or sendemail.smtpPass (git) is stored as a mailcred credential named after the \
        client's account, verified with a live AUTH first unless --no-check (a rejected one stays where it \
        is), read back from the keyring, and only then is the line replaced by `passwordeval "mailcred get \
        NAME"` / `PassCmd "mailcred get NAME"` / `set smtp_pass = "`mailcred get NAME`"` / `source-cred-cmd = mailcred get NAME`: the file is replaced atomically with its mode kept, every other \
        byte unchanged. A second run finds nothing to do. `--undo` puts the lines back. Secrets other programs \
        keep in the Secret Service are taken too, and their items left in place: msmtp's own lookup (host, \
        service=smtp, user), a password command that is exactly `secret-tool lookup ATTR VALUE...` (never run), \
        git's libsecret helper. ~/.netrc and ~/.authinfo, when named: each mail server's password is stored, \
        then only its `password VALUE` pair is removed.
        """)

    @Argument(help: ArgumentHelp("msmtp, mbsync, neomutt, aerc, git, or configuration files (default: every client's usual files).", valueName: "CLIENT|FILE"))
    var targets: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Say what would be stored and rewritten; change nothing.")
    var dryRun = false

    @Flag(name: .customLong("no-check"), help: "Store without verifying each secret with the server.")
    var noCheck = false

    @Flag(help: "Put back the lines an earlier import rewrote (the secrets stay in the keyring).")
    var undo = false

    @OptionGroup var live: LiveCheckOptions

    func validate() throws {
      if undo && dryRun { throw ValidationError("--undo and --dry-run do not go together") }
    }

    func run() async throws {
      let store = Environment.live().store
      if undo {
        let status = ImportJournal.undo(targets: targets, store: store)
        if status != .ok { throw ExitCode(status.rawValue) }
        return
      }
      // ~/.netrc and ~/.authinfo are shared with other programs: imported only when named (`netrc` or a path).
      let shared = targets.filter(NetrcSources.isShared)
      let clientTargets = targets.filter { !NetrcSources.isShared($0) }
      let sources = clientTargets.isEmpty && !shared.isEmpty ? [] : try ClientSources.resolve(clientTargets)
      if sources.isEmpty && shared.isEmpty { note("no msmtp, mbsync, neomutt, aerc or git configuration found (name a file to import)") }
      var tally = Tally()
      if !shared.isEmpty {
        for path in NetrcSources.paths(targets: shared) { await importNetrc(path, store: store, tally: &tally) }
      }
      for source in sources { await importFile(source, store: store, tally: &tally) }
      // Then what other programs keep in the keyring for these files (read again: the first pass may have
      // rewritten them).
      for source in sources { await importForeign(source, store: store, tally: &tally) }
      if sources.contains(where: { $0.client == .git }) { await importForeignGit(store: store, tally: &tally) }
      note(tally.summary(dryRun: dryRun))
      if tally.worst != .ok { throw ExitCode(tally.worst.rawValue) }
    }

    struct Tally {
      var stored = 0, reused = 0, rewritten = 0, files = 0, refused = 0, skipped = 0
      var worst: ExitStatus = .ok
      mutating func failed(with status: ExitStatus) { if status > worst || worst == .ok { worst = status } }
      func summary(dryRun: Bool) -> String {
        if dryRun { return "import --dry-run: \(rewritten) line\(rewritten == 1 ? "" : "s") would be moved; nothing changed" }
        return "import: \(stored) stored, \(reused) already stored, \(rewritten) line\(rewritten == 1 ? "" : "s") rewritten in \(files) "
          + "file\(files == 1 ? "" : "s"), \(refused) rejected, \(skipped) skipped"
      }
    }

    private func importFile(_ source: ClientSources, store: CredentialStore, tally: inout Tally) async {
      if source.client == .git {
        var git = GitSendemail.read()
        defer { for key in git.files.keys { git.files[key]?.file.wipe() } }
        var items = ImportPlan.items(accounts: git.accounts, files: git.files.mapValues(\.file))
        for index in items.indices {
          if let endpoint = ImportPlan.endpoint(of: items[index].account), GitSendemail.helperIsMailcred(for: endpoint) {
            items[index].appendedText = nil
          }
        }
        if items.isEmpty { note("git: no plaintext sendemail.smtpPass to import") }
        var paths: [String] = []
        for item in items where !paths.contains(item.plaintext.path) { paths.append(item.plaintext.path) }
        for path in paths {
          guard let home = git.files[path] else { continue }
          await importItems(items.filter { $0.plaintext.path == path }, in: home, store: store, tally: &tally)
        }
        return
      }
      var loaded: ClientFiles.Loaded
      do { loaded = try ClientFiles.load(source.path) } catch {
        Terminal.writeError("mailcred: \(error.description)")
        tally.failed(with: .configurationError)
        return
      }
      // neomutt's sourced files, loaded once: a secret in one of them is moved in that file.
      var sourced: [String: ClientFiles.Loaded] = [source.path: loaded]
      defer { for key in sourced.keys { sourced[key]?.file.wipe() } }
      let items = ImportPlan.items(in: loaded.file, client: source.client) { path in
        guard let file = try? ClientFiles.load(ClientFiles.expandingTilde(path)) else { return nil }
        sourced[file.path] = file
        return file.file
      }
      if items.isEmpty {
        note("\(source.path): no plaintext secret to import")
        return
      }
      var paths: [String] = []
      for item in items where !paths.contains(item.plaintext.path) { paths.append(item.plaintext.path) }
      for path in paths {
        guard let home = sourced[path] else { continue }
        await importItems(items.filter { $0.plaintext.path == path }, in: home, store: store, tally: &tally)
      }
    }

    /// Stores the items of one file, then rewrites that file once.
    private func importItems(_ items: [ImportItem], in loaded: ClientFiles.Loaded, store: CredentialStore, tally: inout Tally) async {
      let path = loaded.path
      let prepared = prepareReplacement(of: path, tally: &tally)
      if case .failed = prepared { return }
      var moved: [ImportItem] = []
      for item in items {
        let location = "\(path):\(item.plaintext.line)"
        if dryRun {
          Terminal.writeOut("\(location): would store \(item.name) and write: \(item.replacementLine)\n")
          if let inserted = item.insertedLine { Terminal.writeOut("\(location): and add after it: \(inserted)\n") }
          if let appended = item.appendedText { Terminal.writeOut("\(path): and add at the end: \(appended.split(separator: "\n").joined(separator: " "))\n") }
          tally.rewritten += 1
          continue
        }
        if await move(item, file: loaded.file, store: store, tally: &tally) { moved.append(item) }
      }
      guard case .file(let replacement) = prepared else { return }
      guard !moved.isEmpty else { return replacement.discard() }
      var rewritten = ImportPlan.rewrite(loaded.file, items: moved)
      defer { rewritten.wipe() }
      let journal = { () throws(ConfigError) in try ImportJournal.record(moved, file: loaded.file, path: replacement.target) }
      guard commit(rewritten, over: loaded, with: replacement, journal: journal, unchanged: "the secrets are stored and still in the file", tally: &tally)
      else { return }
      tally.rewritten += moved.count
      for item in moved {
        Terminal.writeOut("\(path):\(item.plaintext.line): \(item.replacementLine)\n")
        if let inserted = item.insertedLine { Terminal.writeOut("\(path):\(item.plaintext.line + 1): \(inserted)\n") }
        if let appended = item.appendedText { Terminal.writeOut("\(path): added \(appended.split(separator: "\n").joined(separator: " "))\n") }
      }
    }
  }
}

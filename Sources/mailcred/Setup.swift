import ArgumentParser
import MailcredConfig
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Setup: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print (or append) a configuration block for a stored credential: msmtp, mbsync, neomutt, aerc, git.",
      discussion: """
        The block uses the credential's stored servers, the right port and encryption, and `mailcred get \
        ACCOUNT` for the secret (XOAUTH2 for an OAuth2 credential). --append FILE adds it to FILE (replaced \
        atomically, mode kept; a new file is made mode 600), refusing a file that already has the account.
        """)

    @Argument(help: "msmtp, mbsync, neomutt, aerc or git.")
    var client: MailClient

    @Argument(help: "The stored credential's name.")
    var account: String

    @Option(help: ArgumentHelp("Add the block to this file instead of printing it.", valueName: "FILE"))
    var append: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("A CA certificate the client must trust (PEM).", valueName: "PEM"))
    var caFile: String?

    func run() throws {
      let store = Environment.live().store
      let entry = try store.current(account: account)
      let block: String
      do {
        block = try SetupBlock.text(for: client, credential: entry.credential, caFile: caFile, mbsyncVersion: client == .mbsync ? installedMbsyncVersion() : nil)
      } catch { throw MailcredError.configuration(error.message.text) }
      guard let append else {
        Terminal.writeOut(block)
        return
      }
      try appendBlock(block, to: append)
    }

    private func appendBlock(_ block: String, to path: String) throws {
      var file: ConfigFile
      var mode: UInt32 = 0o600
      if ClientFiles.exists(path) {
        do {
          let loaded = try ClientFiles.load(path)
          file = loaded.file
          mode = loaded.facts.mode
        } catch { throw MailcredError.configuration(error.description) }
      } else {
        file = try! ConfigFile(path: path, bytes: [])
      }
      defer { file.wipe() }
      let known = ClientConfig.accounts(in: file, client: client).map(\.name)
      if let header = SetupBlock.header(for: client, account: account),
        known.contains(account) || file.lines.contains(where: { $0.bytes == Array(header.utf8) })
      {
        throw MailcredError.configuration("\(path) already has `\(header)`: nothing appended")
      }
      let separator = file.lines.isEmpty || file.lines.last?.bytes.isEmpty == true ? "" : "\n"
      file.append(separator + block)
      do {
        try ClientFiles.Replacement(for: path).commit(file.bytes, mode: mode)
      } catch { throw MailcredError.configuration(error.description) }
      note("appended the \(client.rawValue) block for \(account) to \(path)")
    }
  }
}

extension MailClient: ExpressibleByArgument {}

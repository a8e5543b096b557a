#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import MailcredCore

extension Mailcred {
  struct CredentialHelper: ParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "credential-helper",
      abstract: "The git credential helper (also run as git-credential-mailcred).",
      discussion: """
        `git config --global credential.helper mailcred` makes git run `git-credential-mailcred \
        get|store|erase` for every credential it needs. A mail protocol request (smtp, smtps, submission, \
        imap, imaps) for HOST:PORT finds the mail account whose endpoint that is; anything else git stores \
        (https, ...) is kept as a `git` kind credential and matched as git's own helpers match. erase keeps \
        a mail account recoverable with `mailcred restore`; a git kind credential is deleted. Nothing is \
        written on stderr unless something failed.
        """)

    @Argument(help: "get, store or erase; anything else is ignored, as git asks of helpers.")
    var operation: String

    func run() throws { try Self.serve(operation) }

    /// The whole helper, also called directly by `main` for `git-credential-mailcred get` (git runs it
    /// for every fetch and push): no argument parser.
    static func serve(_ operation: String) throws {
      guard ["get", "store", "erase"].contains(operation) else { return }
      var input = try readInput()
      defer { wipe(&input) }
      let request: GitCredentialMessage
      do { request = try GitCredentialMessage.parse(input) } catch {
        throw MailcredError.badHelperInput(error.description)
      }
      var helper = GitCredentialHelper(store: Environment.live().store)
      let refresher = makeRefresher(store: helper.store)
      helper.bearerToken = { entry throws(MailcredError) in
        switch refresher.accessToken(account: entry.credential.account) {
        case .success(let token): return token.accessToken
        case .failure(let failure): throw .oauth(failure, account: entry.credential.account)
        }
      }
      // Quiet on success: git shows a helper's stderr in the middle of `git push`, and its own helper
      // tests count any output there as a failure. `list`/`show` say what git stored or erased.
      switch operation {
      case "get":
        guard let reply = try helper.reply(to: request) else { return }
        var out = reply.bytes()
        defer { wipe(&out) }
        Terminal.writeAll(STDOUT_FILENO, out)
      case "store":
        _ = try helper.store(request, now: now())
      default:
        _ = try helper.erase(request, now: now())
      }
    }

    /// All of stdin, bounded: git sends a few short lines; anything huge is an error, not a crash.
    private static func readInput() throws(MailcredError) -> [UInt8] {
      var input: [UInt8] = []
      var buffer = [UInt8](repeating: 0, count: 4096)
      let limit = 1 << 20
      while true {
        let n = read(STDIN_FILENO, &buffer, buffer.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        input += buffer[0..<n]
        if input.count > limit {
          wipe(&input)
          throw MailcredError.badHelperInput("credential input larger than 1 MiB")
        }
        // A blank line ends the message; do not wait for EOF.
        if input.count >= 2 && input[input.count - 1] == 0x0a
          && (input[input.count - 2] == 0x0a || (input.count >= 3 && input[input.count - 2] == 0x0d && input[input.count - 3] == 0x0a))
        { break }
      }
      wipe(&buffer)
      return input
    }
  }
}


#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import MailcredCore
import MailcredSpelling
import MailcredSystem

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
      let input = try readInput()
      defer { input.wipe() }
      let request: GitCredentialMessage
      do throws(GitCredentialMessage.ParseError) {
        request = try input.withUnsafeBytes { raw throws(GitCredentialMessage.ParseError) in try GitCredentialMessage.parse(raw) }
      } catch {
        throw MailcredError.badHelperInput(error.description)
      }
      var helper = GitCredentialHelper(store: Environment.live().store)
      let refresher = makeRefresher(store: helper.store)
      helper.bearerToken = { entry throws(MailcredError) in
        do throws(OAuthFailure) { return try refresher.accessToken(account: entry.credential.account).accessToken } catch {
          throw .oauth(error, account: entry.credential.account)
        }
      }
      // Quiet on success: git shows a helper's stderr in the middle of `git push`, and its own helper
      // tests count any output there as a failure. `list`/`show` say what git stored or erased.
      switch operation {
      case "get":
        guard let reply = try helper.reply(to: request) else { return }
        let out = reply.bytes()
        defer { out.wipe() }
        Terminal.writeAll(STDOUT_FILENO, out)
      case "store":
        _ = try helper.store(request, now: now())
      default:
        _ = try helper.erase(request, now: now())
      }
    }

    /// The longest input taken: git sends a few short lines; anything huge is an error, not a crash.
    static let inputLimit = 1 << 20

    /// All of stdin up to the blank line that ends the message (no waiting for EOF), read into wipeable
    /// memory: the message holds the password.
    private static func readInput() throws(MailcredError) -> SecretBytes {
      var input = SecretBuffer(capacity: 4096)
      var chunk = SecretBuffer(capacity: 4096)
      while true {
        let count: Int
        do {
          count = try chunk.withUnsafeMutableSpace { raw throws(Errno) in try readSome(STDIN_FILENO, into: raw) }
        } catch { throw .badHelperInput("cannot read the credential request (\(error.text))") }
        if count == 0 { break }
        input.append(from: chunk, count: count)
        if input.count > inputLimit { throw .badHelperInput("credential input larger than 1 MiB") }
        // A blank line ends the message.
        let ended = input.withUnsafeBytes { bytes in
          bytes.count >= 2 && bytes[bytes.count - 1] == 0x0a
            && (bytes[bytes.count - 2] == 0x0a || (bytes.count >= 3 && bytes[bytes.count - 2] == 0x0d && bytes[bytes.count - 3] == 0x0a))
        }
        if ended { break }
      }
      return input.finish()
    }
  }
}


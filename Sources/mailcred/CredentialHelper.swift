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
        `git config credential.helper mailcred` makes git run `git-credential-mailcred get|store|erase`. \
        Only mail protocols are served (smtp, smtps, submission, imap, imaps); other requests are ignored. \
        erase keeps the credential recoverable with `mailcred restore`.
        """)

    @Argument(help: "get, store or erase; anything else is ignored, as git asks of helpers.")
    var operation: String

    func run() throws {
      guard ["get", "store", "erase"].contains(operation) else { return }
      var input = try readInput()
      defer { wipe(&input) }
      let request: GitCredentialMessage
      do { request = try GitCredentialMessage.parse(input) } catch {
        throw fail(.input(.usage(error.description)).withStatus(.dataError))
      }
      var helper = GitCredentialHelper(store: Environment.live().store)
      let refresher = makeRefresher(store: helper.store)
      helper.bearerToken = { entry throws(MailcredError) in
        switch refresher.accessToken(account: entry.credential.account) {
        case .success(let token): return token.accessToken
        case .failure(let failure): throw .conflict(failure.message(account: entry.credential.account), failure.exitStatus)
        }
      }
      switch operation {
      case "get":
        guard let (reply, secret) = try reporting({ () throws(MailcredError) in try helper.get(request) }) else { return }
        let bearer = reply["authtype"] != nil
        var out = (bearer ? Array("capability[]=authtype\n".utf8) : []) + reply.serialized()
        // An oauth2 token goes as `credential=` when git announced `capability[]=authtype` (see the core).
        out += Array((bearer ? "credential=" : "password=").utf8) + secret.bytes + [0x0a]
        defer { wipe(&out) }
        Terminal.writeAll(STDOUT_FILENO, out)
      case "store":
        let outcome = try reporting { () throws(MailcredError) in try helper.store(request, now: now()) }
        switch outcome {
        case .created(let account): note("stored new credential \(account)")
        case .updated(let account): note("updated the secret of \(account)")
        case .unchanged, .ignored: break
        }
      default:
        for account in try reporting({ () throws(MailcredError) in try helper.erase(request) }) {
          note("erased \(account) at git's request; `mailcred restore \(account)` brings it back")
        }
      }
    }

    /// All of stdin, bounded: git sends a few short lines; anything huge is an error, not a crash.
    private func readInput() throws(ExitCode) -> [UInt8] {
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
          throw fail(.input(.usage("credential input larger than 1 MiB")).withStatus(.dataError))
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

extension MailcredError {
  /// The same message with another exit status.
  func withStatus(_ status: ExitStatus) -> MailcredError { .conflict(description, status) }
}

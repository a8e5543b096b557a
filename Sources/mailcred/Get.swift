import ArgumentParser
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print a credential's secret and a newline: for passwordeval, PassCmd and friends.",
      discussion: """
        On success stdout holds exactly the secret and "\\n". On any failure stdout stays empty (msmtp ignores \
        the exit status, so an empty line is what stops it), a one-line reason goes to stderr, and the exit \
        status says why: 67 no such account, 69 keyring unavailable or locked.
        """)

    @Argument(help: "The credential's name.")
    var account: String

    func run() throws {
      let status = Self.printSecret(account: account)
      if status != 0 { throw ExitCode(status) }
    }

    /// The whole command, also called directly by `main` without the argument parser.
    static func printSecret(account: String) -> Int32 {
      let store = Environment.live().store
      do {
        let secret = try store.secret(account: account)
        // One prefix comparison: a password never contains the payload's LF (see OAuthPayload).
        if OAuthPayload.isPayload(secret) { return printAccessToken(account: account, stored: secret, store: store) }
        // A git credential's secret may carry its oauth_refresh_token on a second line (GitSecret); no
        // password holds a newline, so the first line is the password.
        guard Terminal.writeSecretLine(GitSecret.firstLine(secret)) else {
          return report(cannotWriteOutput)!
        }
        return 0
      } catch {
        return report(error)!
      }
    }
  }
}

import ArgumentParser
import MailcredCore
import MailcredSpelling
import MailcredKeyring

extension Mailcred {
  struct Unlock: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Unlock gnome-keyring's default collection with its password (ssh and headless sessions).",
      discussion: """
        Where no unlock dialog can appear (ssh, a console, cron's first run after boot), this asks for the \
        keyring's password on the terminal with echo off (or reads one line of standard input with \
        --password-stdin) and unlocks the default collection through gnome-keyring's own interface. The \
        collection stays unlocked for the rest of the login session. Exit 0 unlocked (or already \
        unlocked), 77 wrong password, 69 no Secret Service or not gnome-keyring (KeePassXC: open the \
        database in KeePassXC).
        """)

    @Flag(name: .customLong("password-stdin"), help: "Read the keyring password from one line of standard input.")
    var passwordStdin = false

    func run() throws {
      let keyring = SecretServiceKeyring(unlock: .never)
      let password = passwordStdin
        ? try Terminal.readSecretLine() : try Terminal.promptSecret("Keyring password: ", confirm: false)
      defer { password.wipe() }
      let result = try keyring.unlockDefaultCollection(password: password)
      note(result == .alreadyUnlocked ? "the keyring was already unlocked" : "unlocked the keyring")
    }
  }
}

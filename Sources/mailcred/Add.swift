import ArgumentParser
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Store a password or app password, verified with a live AUTH first.",
      discussion: """
        The secret is read from a no-echo prompt (twice) or, with --password-stdin, from one line of standard \
        input; never from the command line. Unless --no-check, it is verified against the server first: a \
        rejected secret is not stored (exit 77); a temporary failure stores it with a warning.
        """)

    @Argument(help: "A name for the credential, used by `mailcred get NAME`.")
    var account: String

    @Option(help: "The login name (usually the email address).")
    var user: String

    @Option(help: ArgumentHelp("A provider preset (see `mailcred providers`).", valueName: "ID"))
    var provider: String?

    @OptionGroup var endpoints: EndpointOptions

    @Option(help: "password or app-password (default: the provider's, else password).")
    var kind: CredentialKind?

    @Option(help: ArgumentHelp("When the secret was made (default: now).", valueName: "DATE"))
    var created: String?

    @OptionGroup var expiry: ExpiryOptions
    @OptionGroup var secretInput: SecretInputOptions
    @OptionGroup var live: LiveCheckOptions

    @Flag(name: .customLong("no-check"), help: "Store without verifying the secret with the server.")
    var noCheck = false

    @Flag(help: "Replace an existing credential of the same name.")
    var replace = false

    func validate() throws {
      if let provider, Provider.named(provider) == nil {
        throw ValidationError("unknown provider '\(provider)' (see `mailcred providers`)")
      }
      if kind == .oauth2 {
        throw ValidationError("an oauth2 credential is made with `mailcred authorize \(account) --provider ID --client-id ID`")
      }
      if kind == .git {
        throw ValidationError("a git credential is stored by git itself through the helper (`git config --global credential.helper mailcred`)")
      }
      if provider == nil && endpoints.isEmpty {
        throw ValidationError("give --provider ID, or --smtp HOST[:PORT] and/or --imap HOST[:PORT]")
      }
    }

    func run() async throws {
      let environment = Environment.live()
      let credential = try describe()
      let preset = provider.flatMap(Provider.named)
      for line in preset?.notes ?? [] { warn(line) }

      // Refuse a duplicate before asking for a secret the user would type for nothing.
      let existing = try environment.store.entries(account: account)
      if !existing.isEmpty && !replace { throw MailcredError.accountExists(account) }

      let secret = try secretInput.read(prompt: "Secret for \(account) (\(credential.user)): ")
      var stored = credential
      if !noCheck {
        let verification = await live.checks(environment.store).verify(credential, secret: secret)
        try report(verification, account: account, provider: preset, rejected: "the server rejected this secret")
        stored = verification.recorded(on: credential, at: now())
      }
      try environment.store.add(stored, secret: secret, replace: replace)
      let status = ExpiryStatus(expires: stored.expires, now: now())
      note("stored \(account) (\(stored.kind.rawValue) for \(stored.user)); \(status)")
    }

    /// The credential's metadata from the options and the provider preset.
    private func describe() throws -> Credential {
      let preset = provider.flatMap(Provider.named)
      do {
        try validateAccountName(account)
        try validateUserName(user)
        let (smtpEndpoint, imapEndpoint) = try endpoints.resolve(smtp: preset?.smtp, imap: preset?.imap)
        let createdDate = try created.map { text throws(InputError) in try parseUserDate(text, option: "--created") } ?? now()
        let expiresDate = try expiry.resolve(created: createdDate, provider: preset)
        if let expiresDate, expiresDate <= createdDate {
          throw InputError.invalid("--expires", expiry.expires ?? expiry.expiresIn ?? "", "the expiry is not after the creation date")
        }
        return Credential(
          account: account, kind: kind ?? preset?.defaultKind ?? .password, user: user, smtp: smtpEndpoint,
          imap: imapEndpoint, provider: preset?.id, created: createdDate, expires: expiresDate)
      } catch let error as any ReportableError {
        throw error
      } catch {
        throw InputError.usage("\(String(describing: error))")
      }
    }
  }
}

extension TransportSecurity: ExpressibleByArgument {}
extension CredentialKind: ExpressibleByArgument {}

import ArgumentParser
import MailcredCore
import MailcredSpelling

/// Options of every command that makes a live check (`add`, `check`, `audit`, `rotate`).
struct LiveCheckOptions: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp("Seconds allowed for each check.", valueName: "SECONDS"))
  var timeout: Double = 15

  @Option(name: .customLong("ca-file"), help: ArgumentHelp("An extra trusted CA certificate (PEM), e.g. a self-hosted server's.", valueName: "PEM"))
  var caFile: String?

  @Flag(name: .customLong("allow-plaintext"), help: "Allow AUTH without TLS, only to a loopback host whose security is 'plain'.")
  var allowPlaintext = false

  func validate() throws {
    guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout takes seconds from 0 to 600") }
    if let caFile, caFile.isEmpty { throw ValidationError("--ca-file needs a path") }
  }
}

/// How the secret is read.
struct SecretInputOptions: ParsableArguments {
  @Flag(name: .customLong("password-stdin"), help: "Read the secret from one line of standard input instead of prompting.")
  var passwordStdin = false

  @Flag(name: .customLong("keep-whitespace"), help: "Keep leading or trailing white space in the secret.")
  var keepWhitespace = false

  /// Reads and checks the secret; prints any note (e.g. spaces removed) on stderr.
  func read(prompt: String) throws(InputError) -> SecretBytes {
    let raw = passwordStdin ? try Terminal.readSecretLine() : try Terminal.promptSecret(prompt, confirm: true)
    let accepted = try SecretRules.accept(raw, keepWhitespace: keepWhitespace)
    if let message = accepted.note { note(message) }
    return accepted.secret
  }
}

/// `--expires DATE` / `--expires-in 90d`.
struct ExpiryOptions: ParsableArguments {
  @Option(help: ArgumentHelp("When the secret expires (YYYY-MM-DD or RFC 3339).", valueName: "DATE"))
  var expires: String?

  @Option(name: .customLong("expires-in"), help: ArgumentHelp("How long the secret is valid from its creation: 90d, 12w, 6m, 1y.", valueName: "DURATION"))
  var expiresIn: String?

  func validate() throws {
    if expires != nil && expiresIn != nil { throw ValidationError("give --expires or --expires-in, not both") }
  }

  /// The expiry for a secret created at `created`, or the provider's default policy, or none.
  func resolve(created: MailcredDate, provider: Provider?) throws(InputError) -> MailcredDate? {
    if let expires { return try parseUserDate(expires, option: "--expires") }
    if let expiresIn { return try MailcredCore.Duration.parse(expiresIn).after(created) }
    return provider?.defaultLifetime?.after(created)
  }
}

/// `--smtp HOST[:PORT] --smtp-security MODE --imap HOST[:PORT] --imap-security MODE`, for `add` and
/// `authorize`.
struct EndpointOptions: ParsableArguments {
  @Option(help: ArgumentHelp("SMTP submission server.", valueName: "HOST[:PORT]"))
  var smtp: String?

  @Option(name: .customLong("smtp-security"), help: ArgumentHelp("starttls, tls, or plain (loopback only).", valueName: "MODE"))
  var smtpSecurity: TransportSecurity?

  @Option(help: ArgumentHelp("IMAP server.", valueName: "HOST[:PORT]"))
  var imap: String?

  @Option(name: .customLong("imap-security"), help: ArgumentHelp("tls, starttls, or plain (loopback only).", valueName: "MODE"))
  var imapSecurity: TransportSecurity?

  var isEmpty: Bool { smtp == nil && imap == nil }

  /// The endpoints these options give on top of `smtp`/`imap` (a preset's or the stored ones): a host
  /// replaces the endpoint, a security alone changes it. Plain text only for a loopback host.
  func resolve(smtp baseSMTP: Endpoint?, imap baseIMAP: Endpoint?) throws(InputError) -> (smtp: Endpoint?, imap: Endpoint?) {
    func resolved(_ text: String?, _ security: TransportSecurity?, _ base: Endpoint?, _ proto: MailProtocol) throws(InputError) -> Endpoint? {
      if let text { return try Endpoint.parse(text, proto: proto, security: security) }
      guard var endpoint = base else { return nil }
      if let security { endpoint.security = security }
      return endpoint
    }
    let result = (try resolved(smtp, smtpSecurity, baseSMTP, .smtp), try resolved(imap, imapSecurity, baseIMAP, .imap))
    for endpoint in [result.0, result.1].compactMap({ $0 }) where endpoint.security == .plain && !endpoint.isLoopback {
      throw .invalid("security", "plain", "plain text is only allowed for a loopback host, not \(endpoint.host)")
    }
    return result
  }
}

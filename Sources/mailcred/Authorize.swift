#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import MailcredCore
import MailcredSpelling
import MailcredNet
import MailcredSystem

extension Mailcred {
  struct Authorize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Store an OAuth2 grant (XOAUTH2/OAUTHBEARER) for Outlook.com, Microsoft 365, Gmail or any OAuth2 provider.",
      discussion: """
        Runs the authorization-code flow with PKCE: mailcred listens on http://127.0.0.1:PORT/ (a random \
        port), prints the URL to open (and opens it with xdg-open when a display exists), and waits for the \
        browser to come back. --device runs the device-code flow instead, for machines without a browser: \
        open the printed address anywhere and type the code. The refresh token is stored in the keyring; \
        `mailcred get ACCOUNT` then prints a valid access token, refreshing it when it expires within 5 \
        minutes. The grant is verified with a live XOAUTH2 / OAUTHBEARER AUTH first (--no-check skips it).

        Client ids are yours to register (each provider's steps: `mailcred authorize ACCOUNT --provider ID` \
        without --client-id prints them). Authorizing an existing account (e.g. an app password that \
        Microsoft now refuses) replaces it once the new grant is stored; authorizing an oauth2 account again \
        reuses its stored user, servers, client id and endpoints.
        """)

    @Argument(help: "The credential's name, used by `mailcred get NAME`.")
    var account: String

    @Option(help: ArgumentHelp("A provider preset: outlook.com, office365, gmail (endpoints, scopes, servers).", valueName: "ID"))
    var provider: String?

    @Option(help: "The mailbox (email address) to authorize; default: the stored credential's.")
    var user: String?

    @Option(name: .customLong("client-id"), help: ArgumentHelp("Your OAuth2 client (application) id.", valueName: "ID"))
    var clientID: String?

    @Flag(name: .customLong("client-secret-stdin"), help: "Read the client secret from one line of standard input (Google desktop clients have one).")
    var clientSecretStdin = false

    @Flag(help: "Use the device-code flow (no browser on this machine).")
    var device = false

    @Option(help: ArgumentHelp("Microsoft tenant instead of 'common' (a tenant id or domain, organizations, consumers).", valueName: "TENANT"))
    var tenant: String?

    @Option(name: .customLong("authorization-endpoint"), help: ArgumentHelp("Authorization endpoint of a custom identity provider.", valueName: "URL"))
    var authorizationEndpoint: String?

    @Option(name: .customLong("token-endpoint"), help: ArgumentHelp("Token endpoint of a custom identity provider.", valueName: "URL"))
    var tokenEndpoint: String?

    @Option(name: .customLong("device-endpoint"), help: ArgumentHelp("Device authorization endpoint of a custom identity provider.", valueName: "URL"))
    var deviceEndpoint: String?

    @Option(name: .customLong("scope"), help: ArgumentHelp("A scope to request (repeatable; replaces the preset's).", valueName: "SCOPE"))
    var scopes: [String] = []

    @OptionGroup var endpoints: EndpointOptions

    @Flag(name: .customLong("no-browser"), help: "Only print the URL; do not run xdg-open.")
    var noBrowser = false

    @Option(name: .customLong("wait"), help: ArgumentHelp("Seconds to wait for the browser.", valueName: "SECONDS"))
    var waitSeconds: Double = 300

    @Flag(name: .customLong("no-check"), help: "Store the grant without a live AUTH.")
    var noCheck = false

    @Option(help: ArgumentHelp("SASL mechanism for the check: xoauth2 or oauthbearer (default: XOAUTH2 when offered).", valueName: "MECHANISM"))
    var mechanism: BearerMechanism?

    @OptionGroup var live: LiveCheckOptions

    func validate() throws {
      if let provider, Provider.named(provider) == nil {
        throw ValidationError("unknown provider '\(provider)' (see `mailcred providers`)")
      }
      if let provider, OAuthPreset.forProvider(provider) == nil, tokenEndpoint == nil {
        throw ValidationError("\(provider) has no OAuth2 preset: give --token-endpoint and --authorization-endpoint (or --device-endpoint)")
      }
      if waitSeconds <= 0 || waitSeconds > 3600 { throw ValidationError("--wait takes 1 to 3600 seconds") }
    }

    func run() async throws {
      let store = Environment.live().store
      let existing = try store.entries(account: account).first { $0.credential.state == .current }
      let old = existing?.credential
      var credential = try describe(old: old)
      let settings = credential.oauth!

      var clientSecret: SecretBytes?
      if clientSecretStdin {
        clientSecret = try SecretInputOptions.readLine(what: "client secret")
      } else if let existing, old?.kind == .oauth2,
        let stored = try? store.secret(of: existing), let payload = try? OAuthPayload(parsing: stored)
      {
        clientSecret = payload.clientSecret.map { secret in secret.withUnsafeBytes { SecretBytes(copying: $0) } }
        stored.wipe()
      }

      let client = OAuthClient(transport: HTTPSTransport(timeout: live.timeout), settings: settings, clientSecret: clientSecret)
      let oauthPreset = credential.provider.flatMap { OAuthPreset.forProvider($0, tenant: tenant) }
      let grant = try device ? deviceFlow(client, preset: oauthPreset) : browserFlow(client, user: credential.user, preset: oauthPreset)
      defer { grant.wipe() }
      guard let refreshToken = grant.refreshToken else {
        throw MailcredError.noRefreshToken
      }

      let preset = credential.provider.flatMap(Provider.named)
      if !noCheck && !credential.endpoints.isEmpty {
        let verification = await live.checks(store).verify(credential, secret: grant.accessToken, auth: .bearer(mechanism))
        try report(verification, account: account, provider: preset, kind: .oauth2, rejected: "the mail server refused the new access token")
        credential = verification.recorded(on: credential, at: now())
      }

      let payload = OAuthPayload(
        refreshToken: refreshToken, accessToken: grant.accessToken,
        accessExpires: grant.expiresIn.map { now().addingTimeInterval(Double($0)).wholeSeconds }, clientSecret: clientSecret)
      let encoded = payload.encoded()
      defer { encoded.wipe() }
      try store.add(credential, secret: encoded, replace: true)
      if let old, old.kind != .oauth2 {
        note("replaced the \(old.kind.rawValue) of \(account) with the OAuth2 grant")
      }
      note("stored \(account) (oauth2 for \(credential.user)); `mailcred get \(account)` prints an access token "
        + "(msmtp: auth xoauth2 + passwordeval \"mailcred get \(account)\")")
    }

    // MARK: Flows

    /// Authorization code with PKCE through the loopback redirect.
    private func browserFlow(_ client: OAuthClient, user: String, preset: OAuthPreset?) throws -> TokenGrant {
      let listener = try LoopbackRedirectListener()
      let (verifier, challenge) = OAuthCrypto.pkce()
      defer { verifier.wipe() }
      let state = OAuthCrypto.state()
      let url: String
      do {
        url = try client.authorizationURL(
          redirectURI: listener.redirectURI, state: state, codeChallenge: challenge, loginHint: user,
          extra: preset?.authorizationParameters ?? [:])
      } catch { throw error }
      note("open this URL in a browser and sign in as \(user):")
      Terminal.writeError("\n  \(url)\n")
      if !noBrowser && hasDisplay && spawnDetached("xdg-open", [url]) {
        note("(opened with xdg-open)")
      }
      note("waiting up to \(Int(waitSeconds)) s for the browser to come back to \(listener.redirectURI)")
      let fields = try listener.waitForRedirect(state: state, timeout: waitSeconds, page: "mailcred received the authorization. You can close this tab.")
      let code = try step("the authorization") { () throws(OAuthFailure) in try OAuthClient.authorizationCode(fromRedirect: fields, state: state) }
      defer { code.wipe() }
      return try step("the token endpoint") { () throws(OAuthFailure) in
        try client.exchange(code: code, redirectURI: listener.redirectURI, codeVerifier: verifier)
      }
    }

    /// RFC 8628: show the code, poll until the user approved.
    private func deviceFlow(_ client: OAuthClient, preset: OAuthPreset?) throws -> TokenGrant {
      if let warning = preset?.deviceFlowWarning { warn(warning) }
      let authorization = try step("the device authorization endpoint") { () throws(OAuthFailure) in try client.startDeviceAuthorization() }
      defer { authorization.deviceCode.wipe() }
      note("on any device, open \(authorization.verificationURI) and enter the code \(authorization.userCode)")
      if let complete = authorization.verificationURIComplete { note("(or open \(complete))") }
      note("waiting for the authorization (the code expires in \(authorization.expiresIn / 60) min)")
      return try step("the token endpoint") { () throws(OAuthFailure) in
        try client.waitForDeviceApproval(
          authorization, sleep: { seconds in usleep(UInt32(min(seconds, 60) * 1_000_000)) }, clock: { MailcredSystem.monotonicSeconds() })
      }
    }

    /// A step of the flow, its failure named after the step.
    private func step<T>(_ name: String, _ body: () throws(OAuthFailure) -> T) throws(MailcredError) -> T {
      do { return try body() } catch { throw .authorization(error, step: name) }
    }

    // MARK: Settings

    /// The oauth2 credential to store: options, else the existing credential's values, else the preset's.
    private func describe(old: Credential?) throws -> Credential {
      let providerID = provider ?? old?.provider
      let providerInfo = providerID.flatMap(Provider.named)
      let preset = providerID.flatMap { OAuthPreset.forProvider($0, tenant: tenant) }
      // The stored endpoints win over a preset unless the user names the provider or tenant again.
      let storedOAuth = provider == nil && tenant == nil ? old?.oauth : nil
      do {
        try validateAccountName(account)
        guard let user = user ?? old?.user else { throw InputError.usage("give --user EMAIL: the mailbox to authorize") }
        try validateUserName(user)
        guard let clientID = clientID ?? old?.oauth?.clientID else {
          var message: Advice = "give --client-id ID: your OAuth2 client (application) id"
          if let preset { message = message + ". How to register one: " + preset.registration }
          throw InputError.usage(message)
        }
        try OAuthSettings.validateClientID(clientID)
        var chosenScopes = scopes.flatMap { $0.split(separator: " ").map(String.init) }
        if chosenScopes.isEmpty { chosenScopes = storedOAuth?.scopes ?? preset?.scopes ?? old?.oauth?.scopes ?? [] }
        guard !chosenScopes.isEmpty else { throw InputError.usage("give --scope SCOPE (at least one) for a custom identity provider") }
        for scope in chosenScopes { try OAuthSettings.validateScope(scope) }
        guard let token = tokenEndpoint ?? storedOAuth?.tokenEndpoint ?? preset?.tokenEndpoint ?? old?.oauth?.tokenEndpoint else {
          throw InputError.usage("give --token-endpoint URL (or a --provider with an OAuth2 preset)")
        }
        let authorization = authorizationEndpoint ?? storedOAuth?.authorizationEndpoint ?? preset?.authorizationEndpoint ?? old?.oauth?.authorizationEndpoint
        let deviceURL = deviceEndpoint ?? storedOAuth?.deviceEndpoint ?? preset?.deviceEndpoint ?? old?.oauth?.deviceEndpoint
        for url in [token, authorization, deviceURL].compactMap({ $0 }) { _ = try HTTPSURL(parsing: url) }
        if device && deviceURL == nil { throw InputError.usage("--device needs --device-endpoint URL (or a --provider with one)") }
        if !device && authorization == nil {
          throw InputError.usage("give --authorization-endpoint URL (or a --provider with an OAuth2 preset), or use --device")
        }
        let settings = OAuthSettings(
          clientID: clientID, tokenEndpoint: token, scopes: chosenScopes, authorizationEndpoint: authorization,
          deviceEndpoint: deviceURL, caFile: live.caFile ?? old?.oauth?.caFile)

        let (smtpEndpoint, imapEndpoint) = try endpoints.resolve(smtp: old?.smtp ?? providerInfo?.smtp, imap: old?.imap ?? providerInfo?.imap)
        return Credential(
          account: account, kind: .oauth2, user: user, smtp: smtpEndpoint, imap: imapEndpoint, provider: providerInfo?.id,
          created: now().wholeSeconds, oauth: settings)
      } catch let error as any ReportableError {
        throw error
      } catch {
        throw InputError.usage("\(String(describing: error))")
      }
    }

    private var hasDisplay: Bool {
      let names: [String] = ["DISPLAY", "WAYLAND_DISPLAY"]
      return names.contains { name in
        guard let value = getenv(name) else { return false }
        return value.pointee != 0
      }
    }
  }
}

extension SecretInputOptions {
  /// One line of stdin for a secret that is not the credential's own (a client secret).
  static func readLine(what: String) throws(InputError) -> SecretBytes {
    let secret = try Terminal.readSecretLine()
    guard !secret.isEmpty else { throw InputError.usage("no \(what) on standard input") }
    return secret
  }
}

extension MailcredDate {
  /// Stored dates are whole seconds.
  var wholeSeconds: MailcredDate { MailcredDate(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}


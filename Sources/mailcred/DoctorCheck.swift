import MailcredConfig
import MailcredCore
import MailcredSpelling
import MailcredNet

/// `doctor --check`: each client account's server tried from here. With a stored credential the account
/// names (`mailcred get NAME`, or git's helper for that server), a real check with AUTH; without one only the
/// probes (connect, at most a TLS handshake, the greeting), on the configured port and its standard
/// alternative (587/465, 993/143), so that a blocked port is told apart from a wrong one.
enum DoctorCheck {
  static func findings(accounts: [ClientAccount], store: CredentialStore, credentials: [Credential], live: LiveCheckOptions,
                       files: [String: ConfigFile]) async -> [Finding] {
    var probed: [String: [PortProbe]] = [:]
    var plans: [(account: ClientAccount, endpoint: Endpoint, stored: Credential?)] = []
    for account in accounts {
      guard let endpoint = ImportPlan.endpoint(of: account) else { continue }
      plans.append((account, endpoint, storedCredential(for: account, endpoint: endpoint, in: credentials)))
    }
    // One probe per endpoint, however many accounts use it; every probe and check at once.
    let toProbe = Dictionary(plans.filter { $0.stored == nil }.map { (key($0.endpoint), $0.endpoint) }, uniquingKeysWith: { a, _ in a })
    let options = live.netOptions
    await withTaskGroup(of: (String, [PortProbe]).self) { group in
      for (key, endpoint) in toProbe { group.addTask { (key, await probeReach(endpoint, timeout: options.timeout)) } }
      for await (key, probes) in group { probed[key] = probes }
    }
    var out: [Finding] = []
    for plan in plans {
      let file = files[plan.account.path]
      guard let credential = plan.stored else {
        out += Reach.findings(for: plan.account, probes: probed[key(plan.endpoint)] ?? [], file: file)
        continue
      }
      out += await liveFindings(plan.account, endpoint: plan.endpoint, credential: credential, store: store, live: live, file: file)
    }
    return out
  }

  private static func key(_ e: Endpoint) -> String { "\(e.proto.rawValue) \(e.host) \(e.port) \(e.security.rawValue)" }

  /// The stored password credential the account's secret comes from (OAuth2 grants are probed only: a real
  /// check would need a token refresh).
  static func storedCredential(for account: ClientAccount, endpoint: Endpoint, in credentials: [Credential]) -> Credential? {
    let found: Credential?
    if let name = account.mailcredAccount {
      found = credentials.first { $0.account == name }
    } else if account.usesMailcredHelper {
      found = credentials.first { c in
        c.smtp.map { $0.host.lowercased() == endpoint.host.lowercased() && $0.port == endpoint.port } == true
          && (account.user == nil || account.user?.value == c.user)
      }
    } else {
      found = nil
    }
    return found?.kind == .oauth2 ? nil : found
  }

  private static func liveFindings(_ account: ClientAccount, endpoint: Endpoint, credential: Credential, store: CredentialStore,
                                   live: LiveCheckOptions, file: ConfigFile?) async -> [Finding] {
    let secret: SecretBytes
    do {
      guard let entry = try store.entries(account: credential.account).first(where: { $0.credential.state == .current }) else { return [] }
      secret = try store.secret(of: entry)
    } catch {
      return [Finding(.warning, "live-check", client: account.client, account: account.name, path: account.path, line: account.line,
                      "cannot read \(credential.account) from the store (\(error.text)): not checked")]
    }
    defer { secret.wipe() }
    var options = live.netOptions
    if options.caFile == nil { options.caFile = account.caFile }
    // The client's endpoint, with the stored user and secret: that is what the client will do.
    let user = account.user?.value ?? credential.user
    let result = await checkCredential(endpoint: endpoint, user: user, secret: secret, options: options)
    let text = hint(for: result, provider: credential.provider.flatMap(Provider.named), account: credential.account, user: user).text
    return Reach.findings(for: account, check: result, storedAs: credential.account, hint: text, file: file)
  }
}

import MailcredConfig
import MailcredCore
import MailcredSpelling

extension Mailcred.Import {
  /// Stores one plaintext secret (or finds it stored already) and reads it back; true when the line may go.
  func move(_ item: ImportItem, file: ConfigFile, store: CredentialStore, tally: inout Tally) async -> Bool {
    let secret = item.plaintext.secret(in: file)
    defer { secret.wipe() }
    return await storeVerified(secret, account: item.account, name: item.name, keyword: item.plaintext.keyword,
                               location: "\(item.plaintext.path):\(item.plaintext.line)", store: store, tally: &tally)
  }

  /// Stores `secret` as the mailcred credential `name` for the client account (or finds it stored already),
  /// verified live unless --no-check, and reads it back; true when the client's line may change.
  func storeVerified(_ secret: SecretBytes, account: ClientAccount, name: String, keyword: String, location: String,
             store: CredentialStore, tally: inout Tally) async -> Bool {
    func skip(_ why: String, _ status: ExitStatus = .dataError) -> Bool {
      Terminal.writeError("mailcred: \(location): \(why); left as it was")
      tally.skipped += 1
      tally.failed(with: status)
      return false
    }
    guard let user = account.user?.value, !user.isEmpty else { return skip("account '\(account.name)' has no user") }
    guard let endpoint = ImportPlan.endpoint(of: account) else { return skip("account '\(account.name)' has no host (or uses a Tunnel)") }
    if secret.isEmpty { return skip("the \(keyword) is empty") }
    if !secret.isValidUTF8 || secret.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7f }) {
      return skip("the \(keyword) holds control characters or is not UTF-8")
    }
    let provider = ImportPlan.provider(of: account)
    var credential = Credential(
      account: name, kind: provider?.defaultKind == .appPassword ? .appPassword : .password, user: user,
      smtp: endpoint.proto == .smtp ? endpoint : nil, imap: endpoint.proto == .imap ? endpoint : nil,
      provider: provider?.id, created: now())
    do {
      let existing = try store.entries(account: name).filter { $0.credential.state == .current }
      if let entry = existing.first {
        // Already stored (a second client of the same account, or an import interrupted before the
        // rewrite): only the very same user and secret may be reused.
        let stored = try store.secret(of: entry)
        defer { stored.wipe() }
        guard entry.credential.user == user, stored == secret else {
          return skip("mailcred account '\(name)' exists with another user or secret (rename the client account or `\(AdviceCommand.remove(name).text)`)")
        }
        var merged = entry.credential
        if endpoint.proto == .smtp, merged.smtp == nil { merged.smtp = endpoint }
        if endpoint.proto == .imap, merged.imap == nil { merged.imap = endpoint }
        if merged != entry.credential { try store.update(entry, to: merged) }
        note("\(location): already stored as \(name)")
        tally.reused += 1
        return true
      }
      if !noCheck {
        var options = live
        if options.caFile == nil { options.caFile = account.caFile }
        let verification = await options.checks(store).verify(credential, secret: secret)
        do { try report(verification, account: name, provider: provider, rejected: "the server rejected this secret") } catch {
          note("\(location): the server rejected this secret: not imported, left as it was")
          tally.refused += 1
          tally.failed(with: error.exitStatus)
          return false
        }
        credential = verification.recorded(on: credential, at: now())
      }
      try store.add(credential, secret: secret, replace: false)
      // Only a secret that reads back identical may leave the file.
      let readBack = try store.secret(account: name)
      defer { readBack.wipe() }
      guard readBack == secret else { return skip("the keyring returned a different secret for \(name)", .keyringUnavailable) }
    } catch {
      return skip("\(error.text)", error.exitStatus)
    }
    note("\(location): stored as \(name) (\(user) on \(endpoint.hostAndPort))")
    tally.stored += 1
    return true
  }
}

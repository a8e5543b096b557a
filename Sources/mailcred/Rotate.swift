#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import MailcredCore
import MailcredSpelling
import MailcredNet

extension Mailcred {
  struct Rotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Replace an app password without ever losing the working one.",
      discussion: """
        The new secret is stored as pending, verified with a live AUTH, and only then made current; the \
        old one is deleted last. A rejected secret (exit 77) or one that cannot be verified now (exit 75) \
        leaves the current secret untouched. If mailcred is killed half-way, `get` still returns a working \
        secret and `rotate ACCOUNT --resume` or `--abort` settles the leftover. With no ACCOUNT on a \
        terminal, every expired or rejected credential is offered in turn.
        """)

    @Argument(help: "The credential to rotate.")
    var account: String?

    @OptionGroup var secretInput: SecretInputOptions
    @OptionGroup var expiry: ExpiryOptions
    @OptionGroup var live: LiveCheckOptions

    @Flag(name: .customLong("no-check"), help: "Replace without verifying (the server cannot be reached now).")
    var noCheck = false

    @Flag(help: "Finish an interrupted rotation.")
    var resume = false

    @Flag(help: "Undo an interrupted rotation, keeping the old secret.")
    var abort = false

    func validate() throws {
      if resume && abort { throw ValidationError("give --resume or --abort, not both") }
      if account == nil && (resume || abort) { throw ValidationError("--resume and --abort need an ACCOUNT") }
      if account == nil && secretInput.passwordStdin { throw ValidationError("--password-stdin needs an ACCOUNT") }
    }

    func run() async throws {
      let store = Environment.live().store
      var rotation = Rotation(store: store)
      rotation.checkpoint = testCheckpoint
      let checks = live.checks(store)
      let verifier: Rotation.Verifier? =
        noCheck ? nil : { @Sendable credential, secret in await checks.verify(credential, secret: secret).results }
      guard let account else {
        try await rotateInteractively(store: store, rotation: rotation, verifier: verifier)
        return
      }
      if resume {
        let outcome = try await rotation.resume(account: account, now: now(), verify: verifier)
        try finish(outcome, account: account, provider: nil)
        return
      }
      if abort {
        let removed = try rotation.abort(account: account)
        note("aborted the rotation of \(account): removed \(removed) leftover item\(removed == 1 ? "" : "s"); the old secret is current")
        return
      }
      try await rotateOne(account, store: store, rotation: rotation, verifier: verifier)
    }

    private func rotateOne(_ account: String, store: CredentialStore, rotation: Rotation, verifier: Rotation.Verifier?) async throws {
      // Said before asking for a secret that could not be used. What is current now is what this rotation
      // replaces (`expecting`: if another writer replaces it first, this one changes nothing). A leftover
      // may be a rotation running elsewhere right now: wait for the account's lock and look again — gone,
      // it was a live rotation that just replaced the secret; still there, an interrupted one.
      if try rotation.leftover(account: account) != .none {
        let settled = try store.writing(account: account) { () throws(MailcredError) in try rotation.leftover(account: account) }
        throw settled == .none ? MailcredError.changedMeanwhile(account) : MailcredError.interruptedRotation(account)
      }
      let entry = try store.current(account: account)
      let old = entry.credential
      if old.kind == .oauth2 || old.kind == .git { throw MailcredError.notRotatable(account, old.kind) }
      let provider = old.provider.flatMap(Provider.named)
      if provider?.basicAuthDisabled == true {
        warn("\(provider!.name) no longer accepts passwords or app passwords: a new one will be rejected too (OAuth2 is needed)")
      }
      // Why and where, for a person about to type the new secret; a script piping it in knows already.
      if !secretInput.passwordStdin {
        note("rotating \(account) (\(old.kind.rawValue) for \(old.user)): \(reason(for: old))")
        if let page = provider?.appPasswordPage { note("create the new app password at: \(page)") }
      }
      let secret = try secretInput.read(prompt: "New secret for \(account) (\(old.user)): ")
      let created = now()
      var expires = try expiry.resolve(created: created, provider: provider)
      if expires == nil && expiry.expires == nil && expiry.expiresIn == nil, let oldExpiry = old.expires {
        // Keep the credential's policy: the same lifetime as the secret it replaces.
        expires = created.addingTimeInterval(oldExpiry.timeIntervalSince(old.created))
      }
      let outcome = try await rotation.rotate(account: account, to: secret, expires: expires, now: created, verify: verifier, expecting: entry.item.id)
      try finish(outcome, account: account, provider: provider)
      if case .rotated = outcome, old.kind == .appPassword {
        note("now revoke the old app password\(provider?.appPasswordPage.map { " at \($0)" } ?? " in the provider's settings")")
      }
    }

    private func finish(_ outcome: Rotation.Outcome, account: String, provider: Provider?) throws {
      switch outcome {
      case .rotated(let credential, let results):
        for result in results { printResult(result, account: account, provider: provider) }
        if results.isEmpty && noCheck { warn("stored without verification (--no-check): run `\(AdviceCommand.check(account).text)` when the server is reachable") }
        note("rotated \(account); \(ExpiryStatus(expires: credential.expires, now: now()))")
      case .rejected(let results):
        for result in results where result.verdict != .ok { printResult(result, account: account, provider: provider) }
        throw MailcredError.rotationRejected(account)
      case .notVerified(let results):
        for result in results where result.verdict != .ok { printResult(result, account: account, provider: provider) }
        throw MailcredError.notVerified(account, CheckClass.worst(of: results) ?? .temporary)
      }
    }

    /// On a terminal with no ACCOUNT: offer each credential that is expired or was last rejected.
    private func rotateInteractively(store: CredentialStore, rotation: Rotation, verifier: Rotation.Verifier?) async throws {
      guard Terminal.stdinIsTTY else { throw InputError.usage("name the ACCOUNT to rotate (no terminal to ask on)") }
      let time = now()
      var offered: Set<String> = []
      let due = try store.all().filter { entry in
        let c = entry.credential
        guard c.state == .current, offered.insert(c.account).inserted else { return false }
        if case .expired = ExpiryStatus(expires: c.expires, now: time) { return true }
        return c.checkResult.flatMap(CheckClass.init(rawValue:))?.isRejection == true
      }
      if due.isEmpty {
        note("nothing to rotate: no credential is expired or was rejected at its last check")
        return
      }
      var failures: [ExitStatus] = []
      for entry in due {
        let c = entry.credential
        guard Terminal.confirm("Rotate \(c.account) (\(reason(for: c)))?") else { continue }
        do { try await rotateOne(c.account, store: store, rotation: rotation, verifier: verifier) } catch {
          // Said now; the worst of them is the exit status once every offered credential had its turn.
          failures.append(report(error).flatMap(ExitStatus.init(rawValue:)) ?? .temporaryFailure)
        }
      }
      if let worst = failures.max() { throw ExitCode(worst.rawValue) }
    }

    private func reason(for credential: Credential) -> String {
      var parts: [String] = []
      let status = ExpiryStatus(expires: credential.expires, now: now())
      switch status {
      case .expired, .expiresSoon: parts.append(status.description)
      default: break
      }
      if let result = credential.checkResult, result != CheckClass.ok.rawValue, let checked = credential.checked {
        parts.append("last check \(shortDate(checked)): \(result)")
      }
      return parts.isEmpty ? "requested" : parts.joined(separator: ", ")
    }
  }
}

/// Debug builds only: `MAILCRED_TEST_ROTATE_PAUSE=N` pauses a rotation at step N so that the test suite
/// can kill the process there. Release builds have no such hook.
private let testCheckpoint: @Sendable (Int) -> Void = { step in
  #if DEBUG
  if let value = getenv("MAILCRED_TEST_ROTATE_PAUSE"), Int(String(cString: value)) == step {
    Terminal.writeError("mailcred: test pause at rotation step \(step)")
    sleep(120)
  }
  #endif
}

/// Warns (stderr) about every account whose rotation was interrupted: `list` and `show` call it (and
/// `audit` marks the rows), so that the next look after a crash says what to do.
func warnAboutInterruptedRotations(_ entries: [CredentialStore.Entry]) {
  for account in Rotation.interrupted(entries) { warn(MailcredError.interruptedRotation(account).text) }
}

import MailcredCore
import Synchronization

/// Whether this keyring's reads still go through the direct client.
enum DirectClientState {
  case untried
  case open(DirectSecretService)
  /// It fell back (or failed) once: GDBus does everything from then on.
  case off
}

// The reads of `get`, `list` and the git helper's `get` through `DirectSecretService`, with GDBus behind
// them for everything the direct client leaves alone: the result is the one the GDBus path gives.
extension SecretServiceKeyring {
  /// Runs `body` on the direct client. nil means "do it through GDBus": the client fell back (it is then
  /// off for this keyring's lifetime), was off already, or another thread is using it (the client is one
  /// connection read in turn; concurrent callers such as `audit`'s checks take GDBus, which multiplexes).
  func viaDirect<T: Sendable>(_ body: (DirectSecretService) throws(DirectFailure) -> T) throws(KeyringError) -> T? {
    let address = self.address
    let outcome: Result<T, KeyringError>?? = directClient.withLockIfAvailable { state -> sending Result<T, KeyringError>? in
      let client: DirectSecretService
      switch state {
      case .off: return nil
      case .open(let open): client = open
      case .untried:
        do throws(DirectFailure) { client = try DirectSecretService(address: address) } catch {
          state = .off
          if case .keyring(let failure) = error { return .failure(failure) }
          return nil
        }
        state = .open(client)
      }
      do throws(DirectFailure) {
        return .success(try body(client))
      } catch {
        state = .off
        if case .keyring(let failure) = error { return .failure(failure) }
        return nil
      }
    }
    guard let outcome, let outcome else { return nil }
    return try outcome.get()
  }

  /// `search`'s common case: items found and none to unlock. Nothing found goes to GDBus, which tells an
  /// empty keyring from a locked one.
  func directSearch(_ query: [String: String]) throws(KeyringError) -> [KeyringItem]? {
    let canPrompt = unlockPolicy.canPrompt
    let names = SchemaAttribute.names
    return try viaDirect { client throws(DirectFailure) -> [KeyringItem] in
      let found = try client.searchItems(query, openingSession: true)
      if found.unlocked.isEmpty && found.locked.isEmpty { throw .fallBack("nothing found: maybe locked") }
      if !found.locked.isEmpty && canPrompt { throw .fallBack("locked items to unlock") }
      let attributes = try client.attributes(of: found.unlocked + found.locked)
      let locked = Set(found.locked)
      return (found.unlocked + found.locked).compactMap { path in
        guard let values = attributes[path] else { return nil }  // deleted meanwhile
        return KeyringItem(id: path, attributes: values.filter { names.contains($0.key) }, locked: locked.contains(path))
      }
    }
  }

  /// `secret(of:)` for an unlocked item. Locked meanwhile, with a prompt allowed: GDBus unlocks and retries.
  func directSecret(of path: String) throws(KeyringError) -> SecretBytes? {
    let canPrompt = unlockPolicy.canPrompt
    return try viaDirect { client throws(DirectFailure) -> SecretBytes in
      do throws(DirectFailure) {
        guard let secret = try client.secrets(of: [path])[path] else { throw .keyring(.itemVanished) }
        return secret
      } catch {
        if error == .keyring(.locked) && canPrompt { throw .fallBack("locked meanwhile") }
        throw error
      }
    }
  }

  /// `update`'s common case when recording a check result: only the attributes change, none is dropped.
  func directSetAttributes(of path: String, _ attributes: [String: String]) throws(KeyringError) -> Bool {
    try viaDirect { client throws(DirectFailure) -> Bool in
      try client.setAttributes(of: path, attributes)
      return true
    } ?? false
  }
}

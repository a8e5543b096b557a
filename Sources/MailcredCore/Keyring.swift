/// Errors at the keyring boundary. Every case maps to exit 69 (keyring unavailable or locked) except
/// `invalidAttribute` (bad input), `itemVanished` (another program changed the item: try again) and
/// `wrongPassword` (an unlock password the keyring refused).
public enum KeyringError: Error, Equatable, Sendable {
  /// No Secret Service answers on the session bus (or there is no bus, or it did not answer in time).
  case unavailable(String)
  /// What the command needs is locked and no unlock prompt can be shown (no display, or unlocking was
  /// turned off). Never reported as "not found".
  case locked
  /// The Secret Service's unlock (or access) prompt was dismissed by the user.
  case unlockDismissed
  /// Nobody answered the unlock prompt within the deadline (seconds).
  case promptTimeout(Int)
  /// The keyring refused or failed an operation.
  case failed(String)
  /// An item disappeared between finding it and using it: another program wrote the account meanwhile.
  case itemVanished
  /// `unlock` with a master password, on a Secret Service that is not gnome-keyring (`owner`: its program).
  case notGnomeKeyring(String)
  /// The password given to `unlock` was refused.
  case wrongPassword
  /// An attribute name or value the schema cannot hold.
  case invalidAttribute(String)
  /// A shared store (OpenBao/Vault) refused the caller: a policy without the capability, or a token that
  /// expired or was revoked (exit 77). Never reported as "not found".
  case denied(String)
  /// The store setting itself is wrong (a bad URL, an unknown key, a token or AppRole file that is missing
  /// or readable by others): exit 78, the user's configuration to fix, not a server to wait for.
  case misconfigured(String)

  public var message: Advice {
    switch self {
    case .unavailable(let cause):
      return "no Secret Service on the session bus (\(cause)) — start gnome-keyring-daemon, "
        + "or enable KeePassXC's Secret Service integration"
    case .locked:
      return "the keyring is locked and no unlock prompt can appear here (no DISPLAY or WAYLAND_DISPLAY, "
        + "or MAILCRED_NO_UNLOCK) — run `\(command: .unlock)` (gnome-keyring), or unlock it on the desktop, and try again"
    case .unlockDismissed: return "the keyring is locked: unlock dismissed"
    case .promptTimeout(let seconds):
      return "the keyring is locked: no answer to the unlock prompt within \(seconds) s "
        + "(MAILCRED_UNLOCK_TIMEOUT sets the wait)"
    case .failed(let cause): return "keyring error: \(cause)"
    case .itemVanished:
      return "the keyring item changed while mailcred was using it (another program wrote this account) — try again"
    case .notGnomeKeyring(let owner):
      return "the Secret Service here is \(owner), not gnome-keyring: `\(command: .unlock)` cannot unlock it — "
        + "unlock it in its own window (KeePassXC: open the database)"
    case .wrongPassword: return "the keyring refused that password"
    case .invalidAttribute(let cause): return "keyring attribute refused: \(cause)"
    case .denied(let cause): return Advice(cause)
    case .misconfigured(let cause): return "store configuration: \(cause)"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .invalidAttribute: return .dataError
    case .itemVanished: return .temporaryFailure
    case .wrongPassword, .denied: return .authenticationRejected
    case .misconfigured: return .configurationError
    default: return .keyringUnavailable
    }
  }

  /// Whether the failure is a lock the caller may resolve by unlocking (and retrying).
  public var isLock: Bool {
    switch self {
    case .locked, .unlockDismissed, .promptTimeout: return true
    default: return false
    }
  }
}

/// One stored item as the keyring reports it: its attributes (never the secret, nor the label, which
/// mailcred derives from the attributes and which would cost the Secret Service a round trip per item).
public struct KeyringItem: Sendable, Equatable {
  /// Opaque identity of the item (the D-Bus object path for the Secret Service).
  public var id: String
  public var attributes: [String: String]
  public var locked: Bool

  public init(id: String, attributes: [String: String], locked: Bool) {
    self.id = id
    self.attributes = attributes
    self.locked = locked
  }
}

/// The keyring as mailcred needs it. Every item is in mailcred's schema; queries match attributes exactly.
///
/// Two implementations: `SecretServiceKeyring` (the Secret Service over D-Bus: gnome-keyring, KeePassXC)
/// and `InMemoryKeyring` (fast logic tests). One contract test suite runs against all of them.
public protocol Keyring: Sendable {
  /// Items whose attributes include every pair of `query`, locked ones included (flagged `locked`).
  func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem]
  /// The secret of the first unlocked item matching `query`, or nil when none matches.
  /// Throws `.locked` when only locked items match.
  func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes?
  /// The secret of one item found by `search`.
  func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes
  /// Stores a new item in the default collection and returns it. Never replaces an existing item, even
  /// one with the same attributes (a Secret Service may ask the user before replacing another client's
  /// item, and KeePassXC 2.7.4 never finishes asking): callers delete what the new item supersedes by id.
  @discardableResult
  func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) -> KeyringItem
  /// Replaces an item's attributes and label, keeping its secret. Returns the item as it now is (its id
  /// changes where the keyring cannot drop attributes in place and the item is rewritten).
  @discardableResult
  func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError) -> KeyringItem
  /// Deletes one item.
  func delete(_ item: KeyringItem) throws(KeyringError)
  /// Items other programs stored, of any schema but mailcred's (msmtp's `secret-tool store host H service
  /// smtp user U`, git-credential-libsecret's), whose attributes include every pair of `query`, with all
  /// their attributes. For `import` only: mailcred reads their secrets and never writes or deletes them.
  func searchForeign(_ query: [String: String]) throws(KeyringError) -> [KeyringItem]
}

/// Attribute names mailcred's schema declares; a Secret Service may add its own, which mailcred ignores; every write is
/// checked against this list first.
public enum SchemaAttribute {
  public static let schemaName = "org.mailcred.Credential"
  public static let names: [String] = [
    "account", "kind", "user", "host", "service", "smtp-port", "smtp-security", "imap-host", "imap-port",
    "imap-security", "provider", "created", "expires", "state", "checked", "check-result", "client-id",
    "token-endpoint", "scopes", "authorization-endpoint", "device-endpoint", "ca-file",
    "refreshed",
    // git credentials (GitTarget) and git's erase date
    "git-protocol", "git-host", "git-path", "git-no-user", "git-authtype", "erased",
  ]

  public static func validate(_ attributes: [String: String]) throws(KeyringError) {
    for (name, value) in attributes {
      guard names.contains(name) else { throw .invalidAttribute("unknown attribute '\(name)'") }
      guard !value.utf8.contains(0) else { throw .invalidAttribute("NUL in attribute '\(name)'") }
    }
  }
}

/// Whether a keyring may show its own unlock prompt, and how long to wait for the person to answer it.
/// The CLI decides from the session: a prompt can appear only where there is a display.
public struct UnlockPolicy: Sendable, Equatable {
  public var canPrompt: Bool
  /// Seconds to wait for an answer to the prompt.
  public var timeout: Double

  public init(canPrompt: Bool, timeout: Double = UnlockPolicy.defaultTimeout) {
    self.canPrompt = canPrompt
    self.timeout = timeout
  }

  public static let defaultTimeout: Double = 120
  public static let never = UnlockPolicy(canPrompt: false)

  /// From the environment: a prompt when DISPLAY or WAYLAND_DISPLAY is set and MAILCRED_NO_UNLOCK is not;
  /// MAILCRED_UNLOCK_TIMEOUT (seconds) sets the wait.
  public static func from(environment: (String) -> String?) -> UnlockPolicy {
    // Written out rather than as an array of optionals: `get` runs this on every mail, and each generic type
    // a process uses first costs the Swift runtime a metadata lookup.
    let display = !(environment("DISPLAY") ?? "").isEmpty || !(environment("WAYLAND_DISPLAY") ?? "").isEmpty
    let refused = (environment("MAILCRED_NO_UNLOCK") ?? "").isEmpty == false
      && environment("MAILCRED_NO_UNLOCK") != "0"
    let timeout = environment("MAILCRED_UNLOCK_TIMEOUT").flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil }
    return UnlockPolicy(canPrompt: display && !refused, timeout: timeout ?? defaultTimeout)
  }
}

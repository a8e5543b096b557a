/// Errors at the keyring boundary. Every case maps to exit 69 (keyring unavailable or locked) except
/// `invalidAttribute`, which is a programming or input error.
public enum KeyringError: Error, Equatable, Sendable, CustomStringConvertible {
  /// No Secret Service answers on the session bus (or there is no bus).
  case unavailable(String)
  /// The collection holding the item is locked; mailcred never waits for an unlock prompt.
  case locked
  /// The keyring refused or failed an operation.
  case failed(String)
  /// An attribute name or value the schema cannot hold.
  case invalidAttribute(String)

  public var description: String {
    switch self {
    case .unavailable(let cause):
      return "no Secret Service on the session bus (\(cause)) — start gnome-keyring-daemon, "
        + "or enable KeePassXC's Secret Service integration"
    case .locked:
      return "the keyring is locked — unlock it (log in to the desktop session, or "
        + "`gnome-keyring-daemon --unlock`) and try again"
    case .failed(let cause): return "keyring error: \(cause)"
    case .invalidAttribute(let cause): return "keyring attribute refused: \(cause)"
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .invalidAttribute: return .dataError
    default: return .keyringUnavailable
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
/// Two implementations: `SecretServiceKeyring` (libsecret, the real thing) and `InMemoryKeyring` (fast
/// logic tests). One contract test suite runs against both.
public protocol Keyring: Sendable {
  /// Items whose attributes include every pair of `query`, locked ones included (flagged `locked`).
  func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem]
  /// The secret of the first unlocked item matching `query`, or nil when none matches.
  /// Throws `.locked` when only locked items match.
  func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes?
  /// The secret of one item found by `search`.
  func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes
  /// Stores a new item in the default collection. An existing item with exactly the same attributes is
  /// replaced (the Secret Service's own rule).
  func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError)
  /// Replaces an item's attributes and label, keeping its secret.
  func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError)
  /// Deletes one item.
  func delete(_ item: KeyringItem) throws(KeyringError)
}

/// Attribute names mailcred's schema declares; libsecret rejects others without an error, so every write is
/// checked against this list first.
public enum SchemaAttribute {
  public static let schemaName = "org.mailcred.Credential"
  public static let names: [String] = [
    "account", "kind", "user", "host", "service", "smtp-port", "smtp-security", "imap-host", "imap-port",
    "imap-security", "provider", "created", "expires", "state", "checked", "check-result", "client-id",
    "token-endpoint", "scopes", "authorization-endpoint", "device-endpoint", "ca-file",
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

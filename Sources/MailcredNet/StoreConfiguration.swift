#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore
import MailcredSystem

/// Which store mailcred uses: the Secret Service unless `MAILCRED_STORE` or the `store = ...` line of
/// `$XDG_CONFIG_HOME/mailcred/config` (default ~/.config/mailcred/config) names an OpenBao/Vault one.
///
/// The file is `key = value` lines, `#` comments:
///   store = openbao+https://bao.example:8200/secret/mailcred
///   ca-file = /etc/ssl/bao-ca.pem          (also BAO_CACERT / VAULT_CACERT)
///   namespace = team-a                     (also BAO_NAMESPACE / VAULT_NAMESPACE)
///   token-file = /path                     (default ~/.vault-token; BAO_TOKEN / VAULT_TOKEN win)
///   role-id-file = /etc/mailcred/role-id   (AppRole, both files mode 600)
///   secret-id-file = /etc/mailcred/secret-id
///   approle-mount = approle
///   timeout = 10                           (seconds per request; also MAILCRED_STORE_TIMEOUT)
///   jobs = 16                              (concurrent requests of list/audit; also MAILCRED_STORE_JOBS)
public enum StoreConfiguration {
  public enum Choice: Sendable, Equatable {
    case secretService
    case openBao(OpenBaoSettings)
  }

  public static let keys: Set<String> = [
    "store", "ca-file", "namespace", "token-file", "role-id-file", "secret-id-file", "approle-mount", "timeout",
    "jobs",
  ]

  /// The `key = value` pairs of a config file; unknown keys and malformed lines are errors (a typo must
  /// not silently fall back to another store).
  public static func parse(_ text: String, file: String) throws(KeyringError) -> [String: String] {
    var values: [String: String] = [:]
    for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let line = raw.drop { $0 == " " || $0 == "\t" }
      if line.isEmpty || line.hasPrefix("#") { continue }
      guard let equals = line.firstIndex(of: "=") else { throw .misconfigured("\(file):\(number + 1): expected 'key = value'") }
      let key = String(line[..<equals]).trimmingCharacters
      let value = String(line[line.index(after: equals)...]).trimmingCharacters
      guard keys.contains(key) else { throw .misconfigured("\(file):\(number + 1): unknown setting '\(key)' (known: \(keys.sorted().joined(separator: ", ")))") }
      values[key] = value
    }
    return values
  }

  /// The choice from the environment and the config file's contents (nil when there is no file).
  public static func choose(environment: (String) -> String?, file: String, contents: String?) throws(KeyringError) -> Choice {
    let values = try contents.map { text throws(KeyringError) in try parse(text, file: file) } ?? [:]
    func env(_ name: String) -> String? { environment(name).flatMap { $0.isEmpty ? nil : $0 } }
    guard let store = env("MAILCRED_STORE") ?? values["store"] else { return .secretService }
    if store == "secret-service" { return .secretService }
    var settings = try OpenBaoSettings(url: store)
    settings.caFile = env("BAO_CACERT") ?? env("VAULT_CACERT") ?? values["ca-file"]
    settings.namespace = env("BAO_NAMESPACE") ?? env("VAULT_NAMESPACE") ?? values["namespace"]
    settings.tokenFile = values["token-file"]
    settings.roleIDFile = values["role-id-file"]
    settings.secretIDFile = values["secret-id-file"]
    if let mount = values["approle-mount"] { settings.approleMount = mount }
    if let text = env("MAILCRED_STORE_TIMEOUT") ?? values["timeout"] {
      guard let seconds = Double(text), seconds > 0 else { throw .misconfigured("store timeout '\(text)' is not a number of seconds") }
      settings.timeout = seconds
    }
    if let text = env("MAILCRED_STORE_JOBS") ?? values["jobs"] {
      guard let jobs = Int(text), (1...256).contains(jobs) else { throw .misconfigured("store jobs '\(text)' is not a number from 1 to 256") }
      settings.jobs = jobs
    }
    if (settings.roleIDFile == nil) != (settings.secretIDFile == nil) {
      throw .misconfigured("\(file): AppRole needs both role-id-file and secret-id-file")
    }
    return .openBao(settings)
  }

  /// The choice for this process: environment, then the config file.
  public static func live() throws(KeyringError) -> Choice {
    let environment = { (name: String) in getenv(name).map { String(cString: $0) } }
    let configHome = environment("XDG_CONFIG_HOME").flatMap { $0.isEmpty ? nil : $0 }
      ?? (environment("HOME") ?? "") + "/.config"
    let file = configHome + "/mailcred/config"
    return try choose(environment: environment, file: file, contents: readSmallFile(file))
  }

  /// The file's text, nil when it does not exist (the common case: one failed open, nothing more).
  static func readSmallFile(_ path: String) throws(KeyringError) -> String? {
    let fd: Int32
    do { fd = try openFile(path, O_RDONLY | O_CLOEXEC) } catch {
      if error == .noEntry || error == .notDirectory { return nil }
      throw .misconfigured("cannot read \(path): \(error.text)")
    }
    defer { closeFile(fd) }
    var bytes = [UInt8](repeating: 0, count: 65536)
    var total = 0
    while total < bytes.count {
      let n = (try? bytes.withUnsafeMutableBytes { raw in
        Result { () throws(Errno) in try readSome(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[total...])) }
      }.get()) ?? 0
      if n == 0 { break }
      total += n
    }
    return String(decoding: bytes[..<total], as: UTF8.self)
  }
}

/// A keyring that refuses every call with one error: the store setting was wrong, and each command must
/// say so in its one line instead of quietly using another store.
public struct MisconfiguredKeyring: Keyring {
  public let error: KeyringError
  public init(error: KeyringError) { self.error = error }
  public func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] { throw error }
  public func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes? { throw error }
  public func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes { throw error }
  public func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) -> KeyringItem { throw error }
  public func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError) -> KeyringItem { throw error }
  public func delete(_ item: KeyringItem) throws(KeyringError) { throw error }
  public func searchForeign(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] { throw error }
}

extension String {
  fileprivate var trimmingCharacters: String {
    var text = Substring(self)
    while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
    while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
    return String(text)
  }
}

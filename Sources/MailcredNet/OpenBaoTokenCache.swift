#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore
import MailcredSystem

/// The AppRole token of one store and role, kept between processes: `$XDG_RUNTIME_DIR/mailcred/` (a
/// per-user tmpfs, gone at logout or reboot), else `$XDG_CONFIG_HOME/mailcred/` (~/.config/mailcred),
/// in a directory of mode 700 and a file of mode 600 owned by the user; anything else is ignored and
/// rewritten. The file: the token, then `obtained ttl renewable` (seconds since the epoch, the TTL the
/// server granted, 0/1). Written to a new file of the same directory and renamed over the old one, so a
/// reader never sees half a token. The cache only saves a login: any failure to use it means a login.
struct OpenBaoTokenCache {
  struct Lease {
    var obtained: Double
    /// Seconds the server granted; 0 means the token does not expire.
    var ttl: Int
    var renewable: Bool
  }

  struct Entry {
    var token: SecretBytes
    var lease: Lease

    /// Valid for at least another 5 s (a request must not start with a token that expires under it).
    var expired: Bool { lease.ttl > 0 && wallClock() > lease.obtained + Double(lease.ttl) - 5 }
    var needsRenewal: Bool { lease.renewable && lease.ttl > 0 && wallClock() > lease.obtained + Double(lease.ttl) * 2 / 3 }
  }

  let directory: String
  let path: String

  /// The cache of the store's nodes, mount, prefix, namespace, AppRole mount and role-id file.
  init?(settings: OpenBaoSettings, roleIDFile: String) {
    let env = { (name: String) in getenv(name).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
    guard let base = env("XDG_RUNTIME_DIR") ?? env("XDG_CONFIG_HOME") ?? env("HOME").map({ $0 + "/.config" }) else { return nil }
    directory = base + "/mailcred"
    let key = [settings.description, settings.namespace ?? "", settings.approleMount, roleIDFile].joined(separator: "\n")
    let digest = Array(key.utf8).withUnsafeBytes { OAuthCrypto.sha256($0) }
    path = directory + "/openbao-token-" + digest.prefix(8).map { byte in
      let hex = String(byte, radix: 16)
      return hex.count == 1 ? "0" + hex : hex
    }.joined()
  }

  func read() -> Entry? {
    let entry = try? withPrivateFile(path, ownedByUs: true) { raw -> Entry? in
      guard let newline = raw.firstIndex(of: 10), newline > 0 else { return nil }
      let fields = String(decoding: raw[(newline + 1)...], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
      guard fields.count == 3, let obtained = Double(fields[0]), let ttl = Int(fields[1]), ttl >= 0 else { return nil }
      return Entry(token: SecretBytes(copying: raw[..<newline]), lease: Lease(obtained: obtained, ttl: ttl, renewable: fields[2] == "1"))
    }
    return entry ?? nil
  }

  /// Best effort: a cache that cannot be written costs the next process a login, nothing more.
  func write(_ entry: Entry) {
    do { try makeDirectory(directory, mode: 0o700) } catch where error == .exists {} catch { return }
    guard let info = try? linkStatus(directory), info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0
    else { return }
    var text = SecretBuffer(capacity: entry.token.count + 64)
    text.append(entry.token)
    text.append(10)
    text.append("\(Int(entry.lease.obtained)) \(entry.lease.ttl) \(entry.lease.renewable ? 1 : 0)\n")
    let contents = text.finish()
    defer { contents.wipe() }
    guard let file = try? AtomicReplacement(target: path) else { return }
    _ = contents.withUnsafeBytes { raw in Result { () throws(AtomicReplacement.Failure) in try file.commit(raw, mode: 0o600) } }
  }

  func remove() { unlink(path) }
}

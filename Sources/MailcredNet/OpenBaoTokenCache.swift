#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

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
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid(), info.st_mode & 0o077 == 0
    else { return nil }
    var bytes = [UInt8](repeating: 0, count: 4096)
    let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
    defer { wipe(&bytes) }
    guard count > 0, let newline = bytes[0..<count].firstIndex(of: 10), newline > 0 else { return nil }
    let fields = String(decoding: bytes[(newline + 1)..<count], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
    guard fields.count == 3, let obtained = Double(fields[0]), let ttl = Int(fields[1]), ttl >= 0 else { return nil }
    return Entry(token: SecretBytes(taking: Array(bytes[0..<newline])), lease: Lease(obtained: obtained, ttl: ttl, renewable: fields[2] == "1"))
  }

  /// Best effort: a cache that cannot be written costs the next process a login, nothing more.
  func write(_ entry: Entry) {
    if mkdir(directory, 0o700) != 0, errno != EEXIST { return }
    var info = stat()
    guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(), info.st_mode & 0o077 == 0
    else { return }
    let temporary = path + ".new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { return }
    var bytes = entry.token.bytes
    bytes.append(10)
    bytes += Array("\(Int(entry.lease.obtained)) \(entry.lease.ttl) \(entry.lease.renewable ? 1 : 0)\n".utf8)
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    let complete = written == bytes.count
    wipe(&bytes)
    close(fd)
    if !complete || rename(temporary, path) != 0 { unlink(temporary) }
  }

  func remove() { unlink(path) }
}

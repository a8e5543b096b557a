#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

/// Where an OpenBao/Vault KV v2 store is and how mailcred authenticates to it.
///
/// `openbao+https://HOST:PORT/MOUNT/PREFIX` (also `vault+https://`): items live under
/// `MOUNT/PREFIX/ACCOUNT/ITEM-ID`, so that a policy can give one server one account's path only.
/// A cluster's nodes may be listed, comma-separated (`https://bao1:8200,bao2:8200,bao3:8200/...`): a
/// request that one node cannot serve (down, sealed, standby without a leader) goes to the next.
public struct OpenBaoSettings: Sendable, Equatable {
  public struct Node: Sendable, Equatable {
    public var host: String
    public var port: Int
  }
  /// The cluster's API addresses, in the order they are tried first.
  public var nodes: [Node]
  public var host: String { nodes[0].host }
  public var port: Int { nodes[0].port }
  /// The KV v2 mount (`secret`).
  public var mount: String
  /// Path segments below the mount (`mailcred/team`), no leading or trailing slash.
  public var prefix: String
  public var caFile: String?
  public var namespace: String?
  /// Seconds for each request (resolving, connecting, TLS, the whole answer).
  public var timeout: Double = 10
  /// Concurrent requests of a search (LIST of every account, metadata reads): 1,000 items are then
  /// 1,000/jobs round trips deep instead of 1,000.
  public var jobs = 16
  /// A file holding a token (`bao login` writes ~/.vault-token).
  public var tokenFile: String?
  /// AppRole: files holding role_id and secret_id (mode 600), and the auth mount (`approle`).
  public var roleIDFile: String?
  public var secretIDFile: String?
  public var approleMount = "approle"

  public init(url text: String) throws(KeyringError) {
    let schemes = ["openbao+https://", "vault+https://", "bao+https://"]
    guard let scheme = schemes.first(where: { text.lowercased().hasPrefix($0) }) else {
      throw .misconfigured("store '\(text)': expected openbao+https://HOST:PORT/MOUNT/PREFIX (plain http is not accepted)")
    }
    let rest = text.dropFirst(scheme.count)
    let slash = rest.firstIndex(of: "/") ?? rest.endIndex
    let authority = String(rest[..<slash])
    let segments = rest[slash...].split(separator: "/").map(String.init)
    guard segments.count >= 2 else {
      throw .misconfigured("store '\(text)': name a KV v2 mount and a prefix, e.g. openbao+https://bao.example:8200/secret/mailcred")
    }
    let allowed = { (segment: String) in
      !segment.isEmpty && segment != "." && segment != ".."
        && segment.unicodeScalars.allSatisfy { $0.properties.isAlphabetic && $0.isASCII || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }
    }
    guard segments.allSatisfy(allowed) else {
      throw .misconfigured("store '\(text)': mount and prefix may hold only letters, digits, '-', '_' and '.'")
    }
    var nodes: [Node] = []
    for address in authority.split(separator: ",", omittingEmptySubsequences: false) {
      do {
        let (host, port) = try parseHostPort(String(address), defaultPort: 8200)
        nodes.append(Node(host: host, port: port ?? 8200))
      } catch {
        throw .misconfigured("store '\(text)': \(error)")
      }
    }
    guard nodes.count <= 16 else { throw .misconfigured("store '\(text)': more than 16 nodes") }
    self.nodes = nodes
    mount = segments[0]
    prefix = segments.dropFirst().joined(separator: "/")
  }

  public var description: String {
    "openbao+https://\(nodes.map { HTTPSURL(host: $0.host, port: $0.port).hostHeader }.joined(separator: ","))/\(mount)/\(prefix)"
  }
}

/// Where a token comes from: the environment, or a private file (see `OpenBaoLogin` for the order).
enum OpenBaoToken {
  /// Reads a credential file, refusing one that others may read (a token or secret_id is a password).
  static func readPrivateFile(_ path: String, what: String) throws(KeyringError) -> SecretBytes {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { throw .misconfigured("cannot read the OpenBao \(what) file \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
      throw .misconfigured("the OpenBao \(what) file \(path) is not a regular file")
    }
    guard info.st_mode & 0o077 == 0 else {
      throw .misconfigured("the OpenBao \(what) file \(path) is readable by others — chmod 600 \(path)")
    }
    var bytes = [UInt8](repeating: 0, count: 4096)
    let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
    guard count >= 0 else { wipe(&bytes); throw .failed("cannot read \(path)") }
    var trimmed = Array(bytes[0..<count])
    wipe(&bytes)
    while let last = trimmed.last, last == 10 || last == 13 || last == 32 || last == 9 { trimmed.removeLast() }
    while let first = trimmed.first, first == 32 || first == 9 { trimmed.removeFirst() }
    guard !trimmed.isEmpty else { throw .misconfigured("the OpenBao \(what) file \(path) is empty") }
    return SecretBytes(taking: trimmed)
  }

  static func environmentToken() -> SecretBytes? {
    for name in ["BAO_TOKEN", "VAULT_TOKEN"] {
      if let value = getenv(name), value.pointee != 0 {
        return SecretBytes(taking: Array(UnsafeBufferPointer(start: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self), count: strlen(value))))
      }
    }
    return nil
  }

  static func defaultTokenFile() -> String? {
    guard let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty else { return nil }
    return home + "/.vault-token"
  }
}

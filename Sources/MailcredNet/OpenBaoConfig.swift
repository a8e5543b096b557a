#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore
import MailcredSystem

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
    let secret: SecretBytes
    do {
      secret = try withPrivateFile(path) { raw in
        // The value without the white space around it (`bao login` and editors add a newline).
        let isSpace = { (byte: UInt8) in byte == 10 || byte == 13 || byte == 32 || byte == 9 }
        let start = raw.firstIndex { !isSpace($0) } ?? raw.endIndex
        let end = raw.lastIndex { !isSpace($0) }.map { $0 + 1 } ?? start
        return SecretBytes(copying: raw[start..<max(start, end)])
      }
    } catch {
      switch error {
      case .cannotOpen(let why), .cannotRead(let why): throw .misconfigured("cannot read the OpenBao \(what) file \(path): \(why.text)")
      case .notRegular: throw .misconfigured("the OpenBao \(what) file \(path) is not a regular file")
      case .notPrivate: throw .misconfigured("the OpenBao \(what) file \(path) is readable by others — chmod 600 \(path)")
      case .tooLarge: throw .misconfigured("the OpenBao \(what) file \(path) is larger than 4 KiB: not a token")
      }
    }
    guard !secret.isEmpty else { throw .misconfigured("the OpenBao \(what) file \(path) is empty") }
    return secret
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

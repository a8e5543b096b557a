/// What a `git` kind credential is for, exactly as git named it in the `store` request: the key that
/// git's own helpers match on. Stored as keyring attributes (`git-protocol`, `git-host`, `git-path`,
/// `git-no-user`, `git-authtype`); never `host`/`service`, which are msmtp's lookup attributes.
public struct GitTarget: Sendable, Equatable {
  /// `https`, `http`, `smtp`, ... as git sent it (compared exactly, as git's credential_match does).
  public var proto: String
  /// The host as git sent it, port included (`example.com:8443`): another port is another host. nil
  /// only for a path-keyed protocol (git's `cert`), as git's own helpers allow.
  public var host: String?
  /// Only with `credential.useHttpPath` (or for `cert`-like protocols); nil when the request had none.
  public var path: String?
  /// nil when git stored the credential without a username (an `authtype` credential); `""` is a value.
  public var username: String?
  /// nil for a username/password pair; otherwise the HTTP scheme (`Bearer`, ...) of the `credential=`
  /// that is the item's secret (git >= 2.46, `capability[]=authtype`).
  public var authtype: String?

  public init(proto: String, host: String?, path: String? = nil, username: String? = nil, authtype: String? = nil) {
    self.proto = proto
    self.host = host
    self.path = path
    self.username = username
    self.authtype = authtype
  }

  public var attributes: [String: String] {
    var a = ["git-protocol": proto]
    if let host { a["git-host"] = host }
    if let path { a["git-path"] = path }
    if username == nil { a["git-no-user"] = "1" }
    if let authtype { a["git-authtype"] = authtype }
    return a
  }

  /// `user` is the item's `user` attribute (the username, or "" when there is none).
  public init?(attributes a: [String: String], user: String) {
    guard let proto = a["git-protocol"] else { return nil }
    self.init(
      proto: proto, host: a["git-host"], path: a["git-path"], username: a["git-no-user"] == "1" ? nil : user,
      authtype: a["git-authtype"])
  }

  /// For people (list, show): `https://user@host/path`. Never used to match.
  public var url: String {
    let user = username.map { $0.isEmpty ? "@" : "\($0)@" } ?? ""
    return "\(proto)://\(user)\(host ?? "")/\(path ?? "")"
  }

  /// The same key: what `store` overwrites (protocol, host, path and username, absence included).
  func sameKey(_ other: GitTarget) -> Bool {
    proto == other.proto && host == other.host && path == other.path && username == other.username
  }
}

/// The secret of a `git` item: the password (or the `credential=` of an authtype credential), then,
/// when git gave one, `\noauth_refresh_token=TOKEN`. No value of git's protocol holds a newline, so the
/// split is unambiguous, and the first line alone is what `mailcred get` prints. An empty password (git
/// stores one for SSO hosts) is kept as a lone `\n`: gnome-keyring hands back no secret for an empty one.
public enum GitSecret {
  static let refreshKey = Array("oauth_refresh_token=".utf8)

  static func encode(_ primary: SecretBytes, refreshToken: SecretBytes?) -> SecretBytes {
    guard let refreshToken else { return primary.isEmpty ? SecretBytes(taking: [0x0a]) : primary }
    var out = SecretBuffer(capacity: primary.count + 1 + refreshKey.count + refreshToken.count)
    out.append(primary)
    out.append(0x0a)
    out.append(contentsOf: refreshKey)
    out.append(refreshToken)
    return out.finish()
  }

  /// The password (or credential) alone: what `mailcred get` prints.
  public static func firstLine(_ secret: SecretBytes) -> SecretBytes {
    guard secret.contains(0x0a) else { return secret }
    return decode(secret).primary
  }

  /// (password or credential, refresh token), each in its own wipeable buffer.
  static func decode(_ secret: SecretBytes) -> (primary: SecretBytes, refreshToken: SecretBytes?) {
    secret.withUnsafeBytes { bytes in
      guard let newline = bytes.firstIndex(of: 0x0a) else { return (SecretBytes(copying: bytes), nil) }
      let rest = bytes[(newline + 1)...]
      let token = rest.starts(with: refreshKey) ? SecretBytes(copying: rest.dropFirst(refreshKey.count)) : nil
      return (SecretBytes(copying: bytes[..<newline]), token)
    }
  }
}

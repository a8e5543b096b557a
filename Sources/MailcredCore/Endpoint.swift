/// A mail protocol mailcred can authenticate against.
public enum MailProtocol: String, Sendable, Codable, CaseIterable {
  case smtp
  case imap
}

/// How the connection is secured. Plain text is never chosen by default.
public enum TransportSecurity: String, Sendable, Codable, CaseIterable {
  /// Connect in clear, upgrade with STARTTLS before anything else; not offered is an error.
  case starttls
  /// TLS from the first byte (SMTP 465, IMAP 993).
  case tls
  /// No TLS at all: only for a loopback host, and only when the user asks for it.
  case plain

  /// The security a port implies when the user names none (DESIGN.md): SMTP 465 and IMAP 993 are implicit
  /// TLS, everything else STARTTLS.
  public static func `default`(for proto: MailProtocol, port: Int) -> TransportSecurity {
    switch (proto, port) {
    case (.smtp, 465), (.imap, 993): return .tls
    default: return .starttls
    }
  }
}

/// One server a credential authenticates against.
public struct Endpoint: Sendable, Equatable, Codable {
  public var proto: MailProtocol
  public var host: String
  public var port: Int
  public var security: TransportSecurity

  public init(proto: MailProtocol, host: String, port: Int, security: TransportSecurity) {
    self.proto = proto
    self.host = host
    self.port = port
    self.security = security
  }

  /// The port used when a user gives only a host name.
  public static func defaultPort(for proto: MailProtocol, security: TransportSecurity?) -> Int {
    switch (proto, security) {
    case (.smtp, .tls?): return 465
    case (.smtp, _): return 587
    case (.imap, .starttls?), (.imap, .plain?): return 143
    case (.imap, _): return 993
    }
  }

  /// Parses `HOST`, `HOST:PORT`, `[IPV6]:PORT` or a bare IPv6 literal, as typed on the command line.
  public static func parse(_ text: String, proto: MailProtocol, security: TransportSecurity?) throws(InputError) -> Endpoint {
    let (host, port) = try parseHostPort(text, defaultPort: nil)
    let resolvedPort = port ?? defaultPort(for: proto, security: security)
    let resolvedSecurity = security ?? .default(for: proto, port: resolvedPort)
    return Endpoint(proto: proto, host: host, port: resolvedPort, security: resolvedSecurity)
  }

  /// `host` or `host:port` in the form users and git write it (IPv6 literals in brackets).
  public var hostAndPort: String {
    let shownHost = host.contains(":") ? "[\(host)]" : host
    return "\(shownHost):\(port)"
  }

  /// Whether the host is a loopback address or name, where plain text may be allowed on request.
  /// Names only `localhost`, a 127.0.0.0/8 dotted quad or `::1` — not a name that merely starts with "127.".
  public var isLoopback: Bool {
    let lower = host.lowercased()
    if lower == "localhost" || lower == "::1" || lower == "0:0:0:0:0:0:0:1" { return true }
    let parts = lower.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0] == "127" else { return false }
    return parts.allSatisfy { part in
      !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
    }
  }
}

/// Splits `HOST[:PORT]` / `[V6]:PORT`, validating both parts.
public func parseHostPort(_ text: String, defaultPort: Int?) throws(InputError) -> (host: String, port: Int?) {
  var host = Substring(text)
  var portText: Substring?
  if host.hasPrefix("[") {
    guard let close = host.firstIndex(of: "]") else { throw .invalid("host", text, "unclosed '['") }
    let rest = host[host.index(after: close)...]
    host = host[host.index(after: host.startIndex)..<close]
    if !rest.isEmpty {
      guard rest.hasPrefix(":") else { throw .invalid("host", text, "expected ':PORT' after ']'") }
      portText = rest.dropFirst()
    }
  } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
    portText = host[host.index(after: colon)...]
    host = host[..<colon]
  }
  try validateHostName(String(host))
  var port = defaultPort
  if let portText {
    guard let value = Int(portText), (1...65535).contains(value), portText.allSatisfy(\.isASCII) else {
      throw .invalid("port", String(portText), "a port is a number from 1 to 65535")
    }
    port = value
  }
  return (String(host), port)
}

/// Host names are letters, digits, '-', '.', '_' (and ':' for IPv6 literals); nothing that could smuggle
/// a second line into a protocol or a keyring attribute.
public func validateHostName(_ host: String) throws(InputError) {
  if host.isEmpty { throw .invalid("host", host, "empty host name") }
  if host.utf8.count > 253 { throw .invalid("host", String(host.prefix(40)) + "…", "longer than 253 bytes") }
  for scalar in host.unicodeScalars {
    let ok = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
      || (scalar >= "0" && scalar <= "9") || scalar == "-" || scalar == "." || scalar == "_" || scalar == ":"
    if !ok { throw .invalid("host", host, "only letters, digits, '-', '.', '_' and ':' are allowed") }
  }
}

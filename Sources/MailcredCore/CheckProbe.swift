/// What one diagnostic connection learned about a port (issue 18). When a check fails in a way with several
/// possible causes, a probe or two on a second connection tell them apart. A probe never authenticates: it
/// sends nothing but a TLS ClientHello (the TLS probe) or nothing at all (the greeting probe).
public struct PortProbe: Sendable, Equatable, Codable {
  public enum Method: String, Sendable, Codable {
    /// Connect, TLS handshake (certificate not judged: nothing secret follows), read the greeting over TLS.
    case tlsHandshake = "tls-handshake"
    /// Connect and read the greeting in clear; send nothing.
    case clearGreeting = "clear-greeting"
  }

  public enum Answer: String, Sendable, Codable {
    /// A TLS handshake succeeded (and the greeting over it, if one came in time, was this protocol's).
    case implicitTLS = "implicit-tls"
    /// The server greeted in clear with this protocol's greeting: a STARTTLS (or plain) port.
    case plaintext
    /// Connected, but the server said nothing in time.
    case silent
    /// Connected, but what came back is another service (an IMAP greeting on an SMTP probe, HTTP, SSH…).
    case otherService = "other-service"
    /// Connected; the TLS handshake failed in a way that tells nothing (closed, reset, an alert).
    case failed
    case refused
    /// The connection was not made in time (SYNs dropped: a filter).
    case timeout
    case unreachable
  }

  public var port: Int
  public var method: Method
  public var answer: Answer
  /// The server's first line (bounded, one line), when one came.
  public var greeting: String?
  /// What happened, in words (errno or OpenSSL's text), for `check --json`.
  public var detail: String
  public var seconds: Double

  public init(port: Int, method: Method, answer: Answer, greeting: String? = nil, detail: String, seconds: Double) {
    self.port = port
    self.method = method
    self.answer = answer
    self.greeting = greeting
    self.detail = detail
    self.seconds = seconds
  }

  /// Whether the port answered with a mail server of the probed protocol.
  public var answered: Bool { answer == .implicitTLS || answer == .plaintext }
  /// Whether the connection itself could not be made.
  public var blocked: Bool { answer == .timeout || answer == .refused || answer == .unreachable }
}

/// The alternative port a blocked one is tried against: the standard pairs (RFC 8314: submission 587 with
/// STARTTLS and submissions 465 with implicit TLS; IMAP 143 and 993). Other ports have none.
public func alternativePort(for proto: MailProtocol, port: Int) -> Int? {
  switch (proto, port) {
  case (.smtp, 587): return 465
  case (.smtp, 465): return 587
  case (.imap, 993): return 143
  case (.imap, 143): return 993
  default: return nil
  }
}

/// Whether `line` is a greeting of `proto` (SMTP `220`, IMAP `* OK` / `* PREAUTH`).
public func isGreeting(_ line: String, of proto: MailProtocol) -> Bool {
  switch proto {
  case .smtp: return line.hasPrefix("220")
  case .imap:
    let upper = line.uppercased()
    return upper.hasPrefix("* OK") || upper.hasPrefix("* PREAUTH")
  }
}

/// The one cause the probes establish, if they establish one.
public enum ProbeConclusion: Sendable, Equatable {
  /// Stored as STARTTLS, but the port speaks TLS from the first byte.
  case speaksImplicitTLS(port: Int)
  /// Stored as implicit TLS, but the port greets in clear (STARTTLS).
  case speaksSTARTTLS(port: Int)
  /// The stored port could not be reached (`refused`: actively refused); the alternative answers.
  case alternativeAnswers(blocked: Int, refused: Bool, answering: Int, security: TransportSecurity)
  /// Neither port could be reached (`refused`: both actively refused).
  case bothBlocked(Int, Int, refused: Bool)

  /// Stable word for `check --json` (`diagnosis`).
  public var code: String {
    switch self {
    case .speaksImplicitTLS: return "speaks-implicit-tls"
    case .speaksSTARTTLS: return "speaks-starttls"
    case .alternativeAnswers: return "alternative-port-answers"
    case .bothBlocked: return "ports-filtered"
    }
  }

  /// The endpoint that would work, when there is one.
  public func suggested(for endpoint: Endpoint) -> Endpoint? {
    var fixed = endpoint
    switch self {
    case .speaksImplicitTLS: fixed.security = .tls
    case .speaksSTARTTLS: fixed.security = .starttls
    case .alternativeAnswers(_, _, let port, let security):
      fixed.port = port
      fixed.security = security
    case .bothBlocked: return nil
    }
    return fixed
  }
}

extension CheckResult {
  /// What the probes of this result conclude; nil when there were none or they settle nothing.
  public var conclusion: ProbeConclusion? {
    let port = endpoint.port
    if let same = probes.first(where: { $0.port == port }) {
      if endpoint.security == .starttls, same.method == .tlsHandshake, same.answer == .implicitTLS {
        return .speaksImplicitTLS(port: port)
      }
      if endpoint.security == .tls, same.method == .clearGreeting, same.answer == .plaintext {
        return .speaksSTARTTLS(port: port)
      }
    }
    guard verdict == .timeout || verdict == .refused,
      let other = probes.first(where: { $0.port != port })
    else { return nil }
    let refused = verdict == .refused
    if other.answered {
      let security: TransportSecurity = other.answer == .implicitTLS ? .tls : .starttls
      return .alternativeAnswers(blocked: port, refused: refused, answering: other.port, security: security)
    }
    if other.blocked { return .bothBlocked(port, other.port, refused: refused && other.answer == .refused) }
    return nil
  }
}

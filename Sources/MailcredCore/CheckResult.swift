/// The verdict of one live AUTH against one endpoint (DESIGN.md "Checking a credential").
public enum CheckClass: String, Sendable, Codable, CaseIterable {
  case ok
  case rejected
  case appPasswordRequired = "app-password-required"
  case basicAuthDisabled = "basic-auth-disabled"
  case noAuthOffered = "no-auth-offered"
  case starttlsMissing = "starttls-missing"
  case tlsFailed = "tls-failed"
  case temporary
  case timeout
  case refused
  case dns
  case unreachable
  case protocolError = "protocol"

  public var exitStatus: ExitStatus {
    switch self {
    case .ok: return .ok
    case .rejected, .appPasswordRequired, .basicAuthDisabled: return .authenticationRejected
    case .noAuthOffered, .starttlsMissing, .tlsFailed, .protocolError: return .protocolError
    case .temporary, .timeout, .refused, .dns, .unreachable: return .temporaryFailure
    }
  }

  /// Whether the secret itself was judged (a rejected secret must not be stored or kept as current).
  public var isRejection: Bool { exitStatus == .authenticationRejected }
}

/// One check's outcome: the class, the server's own words, and how long it took.
public struct CheckResult: Sendable, Equatable {
  public var endpoint: Endpoint
  public var verdict: CheckClass
  /// The server's last reply line(s) that decided the verdict (never contains the secret), or the
  /// local error (TLS, socket) in words.
  public var detail: String
  /// Seconds from the first connect attempt to the verdict.
  public var latency: Double
  /// The diagnostic probes run after the failure (issue 18), in the order they ran; see `conclusion`.
  public var probes: [PortProbe]

  public init(endpoint: Endpoint, verdict: CheckClass, detail: String, latency: Double, probes: [PortProbe] = []) {
    self.endpoint = endpoint
    self.verdict = verdict
    self.detail = detail
    self.latency = latency
    self.probes = probes
  }
}

import MailcredCore

/// Everything that can go wrong below the protocol: resolving, connecting, reading, writing, TLS.
/// Messages name hosts, errno texts and OpenSSL's reasons, never data sent or received.
public enum NetError: Error, Equatable, Sendable, CustomStringConvertible {
  /// getaddrinfo failed (gai_strerror's words).
  case dns(String)
  /// A deadline passed while waiting for `what`.
  case timeout(String)
  /// ECONNREFUSED on every address.
  case refused(String)
  /// EHOSTUNREACH, ENETUNREACH and other connect failures.
  case unreachable(String)
  /// The server closed the connection.
  case closed
  /// A line longer than the limit arrived without its newline.
  case lineTooLong(Int)
  /// A socket error after the connection was up (ECONNRESET, …).
  case io(String)
  /// Handshake, certificate or host-name failure, with OpenSSL's error queue.
  case tls(String)
  /// Bytes arrived between the server's go-ahead for STARTTLS and the handshake (CVE-2011-0411 style).
  case plaintextInjection(Int)

  public var description: String {
    switch self {
    case .dns(let why): return "cannot resolve the host name: \(why)"
    case .timeout(let what): return "timed out \(what)"
    case .refused(let why): return "connection refused: \(why)"
    case .unreachable(let why): return "cannot connect: \(why)"
    case .closed: return "the server closed the connection"
    case .lineTooLong(let limit): return "the server sent a line longer than \(limit) bytes"
    case .io(let why): return "connection error: \(why)"
    case .tls(let why): return "TLS failed: \(why)"
    case .plaintextInjection(let count):
      return "the server sent \(count) unencrypted byte(s) after agreeing to STARTTLS (injection attempt?); refused"
    }
  }

  public var checkClass: CheckClass {
    switch self {
    case .dns: return .dns
    case .timeout: return .timeout
    case .refused: return .refused
    case .unreachable: return .unreachable
    case .closed, .lineTooLong, .io, .plaintextInjection: return .protocolError
    case .tls: return .tlsFailed
    }
  }
}

extension NetError: ReportableError {
  /// The exit status of the check class the error belongs to.
  public var exitStatus: ExitStatus { checkClass.exitStatus }
}

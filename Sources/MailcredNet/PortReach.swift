import MailcredCore

// `mailcred doctor --check` without a stored credential: the issue-18 probes (connect, at most a TLS
// handshake, the greeting; never a command or a secret) on a client's port and on its standard alternative
// (587/465, 993/143), at once, each on a thread of its own, within one deadline.

/// The configured port probed the way the account is set up (implicit TLS: a handshake; else the greeting
/// in clear), and the standard alternative the way its number implies. The first element is the configured
/// port's probe.
public func probeReach(_ endpoint: Endpoint, timeout: Double) async -> [PortProbe] {
  let deadline = Deadline(secondsFromNow: timeout)
  let host = endpoint.host, proto = endpoint.proto, port = endpoint.port, security = endpoint.security
  async let configured = onDedicatedThread {
    security == .tls
      ? probeTLS(host: host, port: port, proto: proto, deadline: deadline)
        ?? PortProbe(port: port, method: .tlsHandshake, answer: .failed, detail: "abandoned", seconds: 0)
      : greetingOrTLS(host: host, port: port, proto: proto, deadline: deadline)
  }
  guard let other = alternativePort(for: proto, port: port) else { return [await configured] }
  async let alternative = onDedicatedThread { probeAlternative(host: host, port: other, proto: proto, deadline: deadline) }
  return [await configured, await alternative]
}

/// The greeting in clear; a port that says nothing within the probe's patience may be an implicit-TLS one
/// (waiting for our ClientHello, as runCheck's STARTTLS case finds): then the answer of a TLS handshake.
private func greetingOrTLS(host: String, port: Int, proto: MailProtocol, deadline: Deadline) -> PortProbe {
  let clear = probeClearGreeting(host: host, port: port, proto: proto, deadline: deadline)
  guard clear.answer == .silent, deadline.remaining > 0.2,
    let tls = probeTLS(host: host, port: port, proto: proto, deadline: deadline.capped(at: tlsProbeLimit)), tls.answer == .implicitTLS
  else { return clear }
  return tls
}

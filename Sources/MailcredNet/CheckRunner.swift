import MailcredCore
import MailcredSystem

/// One whole check on the calling thread: connect, drive the protocol's exchange, classify. Blocks; callers
/// run it on a dedicated thread.
func runCheck(endpoint: Endpoint, user: String, secret: SecretBytes, options: CheckOptions, auth: AuthMethod = .password) -> CheckResult {
  var started = monotonicSeconds()
  var probes: [PortProbe] = []
  func result(_ verdict: CheckClass, _ detail: String) -> CheckResult {
    CheckResult(endpoint: endpoint, verdict: verdict, detail: detail, latency: monotonicSeconds() - started, probes: probes)
  }

  if endpoint.security == .plain && !(options.allowPlaintext && endpoint.isLoopback) {
    return result(.protocolError, plaintextRefusal(endpoint))
  }
  // Local work (parsing the trust store) happens before the clock starts: the deadline is for the network.
  var context: TLSClientContext?
  if endpoint.security != .plain {
    do {
      context = try TLSClientContext.shared(caFile: options.caFile)
    } catch {
      return result(error.checkClass, error.description)
    }
  }
  started = monotonicSeconds()
  let deadline = Deadline(secondsFromNow: options.timeout)
  let timeoutText = "no answer within \(formatSeconds(options.timeout)) s"
  func failure(_ error: NetError) -> CheckResult {
    if case .timeout(let what) = error { return result(.timeout, "\(timeoutText) (\(what))") }
    return result(error.checkClass, error.description)
  }

  // With a standard alternative port (587/465, 993/143), the first connect gets half the deadline, so that
  // a blocked port leaves time to ask the other one (issue 18).
  let alternative = endpoint.security == .plain ? nil : alternativePort(for: endpoint.proto, port: endpoint.port)
  let connectLimit = alternative == nil ? options.timeout : options.timeout / 2
  let connection: LineConnection
  do {
    connection = LineConnection(try connectTCP(host: endpoint.host, port: endpoint.port, deadline: deadline.capped(at: connectLimit)))
  } catch {
    guard let alternative, error.checkClass == .timeout || error.checkClass == .refused else { return failure(error) }
    // Also at most half the timeout after a quick refusal: a refused port beside a filtered one is answered
    // in half the time, not the whole of it.
    let probe = probeAlternative(host: endpoint.host, port: alternative, proto: endpoint.proto, deadline: deadline.capped(at: connectLimit))
    probes.append(probe)
    let first = error.checkClass == .timeout
      ? "no connection within \(formatSeconds(connectLimit)) s (connecting to \(endpoint.host) port \(endpoint.port))"
      : error.description
    return result(error.checkClass, first + "; " + describe(probe))
  }
  do {
    // The name said loopback; the address we reached must agree before anything goes out in clear.
    if endpoint.security == .plain && !connection.peer.isLoopback {
      return result(.protocolError, plaintextRefusal(endpoint) + " (\(endpoint.host) is \(connection.peer.numericHost))")
    }
    if endpoint.security == .tls, let context {
      try connection.startTLS(context: context, host: endpoint.host, upgrading: false, deadline: deadline)
    }
  } catch {
    // A handshake that met a plain-text answer: ask the port, on a second connection, for its greeting.
    if endpoint.security == .tls, case .tls(let text) = error,
      plaintextPeerReasons.contains(connection.tlsFailureReason) || text.hasPrefix("the server closed")
    {
      let probe = probeClearGreeting(host: endpoint.host, port: endpoint.port, proto: endpoint.proto, deadline: deadline)
      probes.append(probe)
      return result(.tlsFailed, error.description + "; " + describe(probe))
    }
    return failure(error)
  }

  // STARTTLS: a greeting that does not come within a moment may mean an implicit-TLS port, which waits for
  // our ClientHello as we wait for its greeting. Ask it on a second connection, and keep waiting on the
  // first for a server that is merely slow (its greeting arriving ends the probe).
  if endpoint.security == .starttls,
    !connection.hasInput(within: deadline.capped(at: greetingPatience)),
    deadline.remaining > 0.2
  {
    if let probe = probeTLS(
      host: endpoint.host, port: endpoint.port, proto: endpoint.proto, deadline: deadline.capped(at: tlsProbeLimit),
      abandonWhenReadable: connection.fd)
    {
      probes.append(probe)
      if probe.answer == .implicitTLS {
        return result(.protocolError, "no greeting within \(formatSeconds(greetingPatience)) s; " + describe(probe))
      }
    }
  }

  var driver = ExchangeDriver(
    connection: connection, deadline: deadline, context: context, host: endpoint.host, timeoutText: timeoutText)
  let outcome: (CheckClass, String)
  var bearer: BearerAuth?
  if case .bearer(let mechanism) = auth { bearer = BearerAuth(mechanism: mechanism, host: endpoint.host, port: endpoint.port) }
  switch endpoint.proto {
  case .smtp:
    var exchange = SMTPAuthExchange(
      user: user, secret: secret, security: endpoint.security,
      clientName: connection.localAddress?.addressLiteral ?? "[127.0.0.1]", bearer: bearer)
    outcome = driver.run(&exchange)
  case .imap:
    var exchange = IMAPAuthExchange(user: user, secret: secret, security: endpoint.security, bearer: bearer)
    outcome = driver.run(&exchange)
  }
  let verdict = result(outcome.0, outcome.1)
  driver.sayGoodbye()
  return verdict
}

private func plaintextRefusal(_ endpoint: Endpoint) -> String {
  "refusing to send a secret to \(endpoint.hostAndPort) without TLS: plain text is allowed only to a "
    + "loopback address, and only when explicitly permitted"
}

/// One probe in words, for the result's detail.
private func describe(_ probe: PortProbe) -> String {
  let what: String
  switch probe.answer {
  case .implicitTLS: what = "speaks implicit TLS"
  case .plaintext: what = "greets in clear (STARTTLS)"
  case .silent: what = "accepts connections but says nothing"
  case .otherService: what = "answers, but is no mail server of this protocol"
  case .failed: what = "accepts connections, but the probe learned nothing"
  case .refused: what = "refuses connections"
  case .timeout: what = "does not answer (no connection)"
  case .unreachable: what = "cannot be reached"
  }
  let via = probe.method == .tlsHandshake ? "a TLS handshake" : "a greeting read in clear"
  return "probe (\(via) on a second connection): port \(probe.port) \(what) — \(probe.detail), \(Int((probe.seconds * 1000).rounded())) ms"
}

private func formatSeconds(_ seconds: Double) -> String {
  seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
}

/// Moves bytes between a connection and an exchange until the exchange reaches a verdict.
private struct ExchangeDriver {
  let connection: LineConnection
  let deadline: Deadline
  let context: TLSClientContext?
  let host: String
  let timeoutText: String
  private var farewell: [UInt8]?
  /// What the server is expected to answer, for timeout messages.
  private var awaiting = "waiting for the greeting"

  init(connection: LineConnection, deadline: Deadline, context: TLSClientContext?, host: String, timeoutText: String) {
    self.connection = connection
    self.deadline = deadline
    self.context = context
    self.host = host
    self.timeoutText = timeoutText
  }

  mutating func run<Exchange: AuthExchange>(_ exchange: inout Exchange) -> (CheckClass, String) {
    var step = AuthStep.readLine
    do throws(NetError) {
      while true {
        switch step {
        case .readLine:
          let line: [UInt8]
          do {
            line = try connection.readLine(deadline: deadline)
          } catch .closed {
            return exchange.verdictOnClose()
          }
          step = exchange.receive(line)
        case .send(let bytes):
          awaiting = "waiting for the reply to " + commandName(bytes)
          try connection.write(bytes, deadline: deadline)
          step = .readLine
        case .sendSecret(let secret):
          awaiting = "waiting for the reply to the credentials"
          defer { secret.wipe() }
          try connection.write(secret, deadline: deadline)
          step = .readLine
        case .startTLS:
          awaiting = "during the TLS handshake"
          guard let context else { throw NetError.tls("no TLS context") }
          try connection.startTLS(context: context, host: host, upgrading: true, deadline: deadline)
          step = exchange.tlsEstablished()
        case .finished(let verdict, let detail, let farewell):
          // A server that sent garbage gets no QUIT: waiting for its answer would only add a second.
          self.farewell = verdict == .protocolError ? nil : farewell
          return (verdict, detail)
        }
      }
    } catch {
      if case .timeout = error { return (.timeout, "\(timeoutText) (\(awaiting))") }
      return (error.checkClass, error.description)
    }
  }

  /// QUIT / LOGOUT and its answer, briefly: politeness, never part of the verdict.
  func sayGoodbye() {
    guard let farewell else { return }
    let brief = deadline.capped(at: 1)
    guard brief.remaining > 0, (try? connection.write(farewell, deadline: brief)) != nil else { return }
    _ = try? connection.readLine(deadline: brief)
  }
}

/// `EHLO`, `A1 CAPABILITY`: the command word(s) of a line we sent, for messages.
private func commandName(_ bytes: [UInt8]) -> String {
  let line = bytes.prefix { $0 != 13 && $0 != 10 }
  return String(decoding: line.prefix(40), as: UTF8.self)
}

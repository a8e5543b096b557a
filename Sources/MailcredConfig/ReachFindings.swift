import MailcredCore

/// The findings of `mailcred doctor --check`: what connecting to an account's server (and to its standard
/// alternative port) showed from this network. Pure: the probes or the live check come in as values.
public enum Reach {
  /// From probes without AUTH (no stored credential for the account): `probes[0]` is the configured port.
  public static func findings(for account: ClientAccount, probes: [PortProbe], file: ConfigFile? = nil) -> [Finding] {
    guard let same = probes.first else { return [] }
    let other = probes.dropFirst().first
    let port = account.effectivePort
    let host = account.host?.value ?? ""
    var syntax = LineSyntax(client: account.client, account: account)
    syntax.mbsyncTypeKeyword = account.securityLine?.value.lowercased() == "tlstype" ? "TLSType" : "SSLType"
    func finding(_ severity: Finding.Severity, _ code: String, _ message: String, fix: [String] = [], line: Int? = nil) -> Finding {
      let place = line.map { (line: $0, action: Finding.FixAction.replace) }
        ?? account.placement(of: account.port?.line ?? (account.client == .aerc || account.client == .neomutt ? account.host?.line : nil))
      let indent = file.map { syntax.indent(of: place.line, in: $0) } ?? ""
      return Finding(severity, code, client: account.client, account: account.name, path: account.path, line: place.line,
                     message, fix: fix.first.map { indent + $0 }, action: place.action)
    }
    let alsoOther = other.map { "; \($0.port) " + (($0.answered) ? "answers too (\(said($0)))" : "does not (\(said($0)))") } ?? ""
    if same.answered {
      let speaks: TransportSecurity = same.answer == .implicitTLS ? .tls : .starttls
      let configured: TransportSecurity = account.security == .plain ? .starttls : account.security
      if speaks != configured {
        let place = account.placement(of: account.securityLine?.line)
        return [finding(.error, "port-security-measured",
          "\(host) port \(port) \(said(same)), but the account uses \(configured == .tls ? "implicit TLS" : "STARTTLS")",
          fix: [syntax.securityLine(speaks, port: port)], line: place.action == .replace ? place.line : nil)]
      }
      return [finding(.info, "reachable", "\(host) port \(port) answers from here (\(said(same)))\(alsoOther)")]
    }
    if same.blocked, let other, other.answered {
      return [blockedFinding(account, blocked: same, answering: other, syntax: syntax, make: finding)]
    }
    if same.blocked, let other, other.blocked {
      return [finding(.error, "ports-blocked",
        "\(port) and \(other.port) are both blocked from here (\(said(same)); \(said(other))): "
          + (account.proto == .smtp ? "outbound mail is filtered on this network" : "IMAP is filtered on this network")
          + " — another network, a VPN, or the provider's web access")]
    }
    if same.blocked {
      return [finding(.error, "port-unreachable", "\(host) port \(port): \(said(same))\(alsoOther)")]
    }
    return [finding(.warning, "port-odd", "\(host) port \(port) \(said(same))\(alsoOther)")]
  }

  /// From a live check with the stored credential (AUTH included): ok is info, anything else an error with
  /// the check's words; a blocked port whose alternative answered says which to use, as the probes do.
  public static func findings(for account: ClientAccount, check: CheckResult, storedAs name: String, hint: String, file: ConfigFile? = nil) -> [Finding] {
    let endpoint = check.endpoint
    if check.verdict == .ok {
      return [Finding(.info, "live-check", client: account.client, account: account.name, path: account.path, line: account.line,
                      "\(endpoint.hostAndPort): \(name) authenticated from here (\(Int((check.latency * 1000).rounded())) ms)")]
    }
    // The configured port could not be reached and the check's own probe asked the other one: the same
    // findings as the probes give (which port to use, or that both are filtered).
    let pairSettled: Bool
    switch check.conclusion {
    case .alternativeAnswers, .bothBlocked: pairSettled = true
    default: pairSettled = false
    }
    if pairSettled, let blocked = check.probes.first(where: { $0.port != endpoint.port }) {
      let first = PortProbe(port: endpoint.port, method: .clearGreeting, answer: check.verdict == .refused ? .refused : .timeout,
                            detail: check.verdict == .refused ? "connection refused" : "no connection in time",
                            seconds: max(0, check.latency - blocked.seconds))  // the check's own connect, before its probe
      return findings(for: account, probes: [first, blocked], file: file)
    }
    return [Finding(.error, "live-check", client: account.client, account: account.name, path: account.path, line: account.line,
                    "\(endpoint.hostAndPort): the stored credential \(name) did not authenticate (\(check.verdict.rawValue): \(check.detail))"
                      + (hint.isEmpty ? "" : "; \(hint)"))]
  }

  static func blockedFinding(_ account: ClientAccount, blocked: PortProbe, answering: PortProbe, syntax: LineSyntax,
                             make: (Finding.Severity, String, String, [String], Int?) -> Finding) -> Finding {
    let security: TransportSecurity = answering.answer == .implicitTLS ? .tls : .starttls
    let lines = syntax.portLines(port: answering.port, security: security)
    let how = blocked.answer == .refused ? "refuses connections from here" : "is blocked from here"
    return make(.error, "port-blocked",
      "\(blocked.port) \(how) (\(said(blocked))); \(answering.port) answers (\(said(answering))) — use "
        + lines.map { "`\($0)`" }.joined(separator: " + "), lines, nil)
  }

  /// A probe's answer in a few words.
  static func said(_ probe: PortProbe) -> String {
    switch probe.answer {
    case .implicitTLS: return "speaks implicit TLS"
    case .plaintext: return "greets in clear: STARTTLS"
    case .silent: return "accepts connections but says nothing"
    case .otherService: return "answers, but is not a mail server of this protocol"
    case .failed: return "accepts connections, but \(probe.detail)"
    case .refused: return "connection refused"
    case .timeout: return "no connection within \(Int(probe.seconds.rounded())) s"
    case .unreachable: return probe.detail
    }
  }
}

extension LineSyntax {
  /// The lines that move an account to another port with the security it speaks.
  func portLines(port: Int, security: TransportSecurity) -> [String] {
    switch client {
    case .aerc, .neomutt: return [urlLine(security: security, host: account?.host?.value ?? "HOST", port: port)]
    case .mbsync: return ["Port \(port)", securityLine(security, port: port)]
    case .git: return ["smtpServerPort = \(port)", securityLine(security, port: port)]
    default: return ["port \(port)", securityLine(security, port: port)]
    }
  }
}

/// One line telling the user what to do about a check's result, in the spirit of the classic mail
/// troubleshooting advice. Empty for a plain success.
///
/// `account` fills in commands such as rotating ACCOUNT (and `user` the replacing `add` of a wrong port or
/// security); `kind` `.oauth2` gives OAuth2's hints. When probes found the one cause
/// (`result.conclusion`), the hint states it and its fix instead of the possibilities.
public func hint(
  for result: CheckResult, provider: Provider?, account: String = "ACCOUNT", kind: CredentialKind? = nil,
  user: String? = nil
) -> Advice {
  if kind == .oauth2, let text = OAuthCheck.hint(for: result, provider: provider, account: account) { return text }
  if let conclusion = result.conclusion {
    return probeHint(conclusion, endpoint: result.endpoint, provider: provider, account: account, user: user, kind: kind)
  }
  let endpoint = result.endpoint
  let name = provider?.name ?? "the provider"
  var text: Advice
  switch result.verdict {
  case .ok:
    text = ""
  case .rejected:
    if let provider, provider.basicAuthDisabled {
      text = "\(provider.name) no longer accepts passwords or app passwords: OAuth2 is required "
        + "(`\(command: OAuthCheck.authorizeCommand(account: account, provider: provider))`)"
    } else {
      text = "wrong or expired (app) password: `\(command: .rotate(account))`"
        + Advice(provider?.appPasswordPage.map { " (new app password: \($0))" } ?? "")
        + "; if it keeps happening, check \(name)'s sign-in activity alerts"
    }
  case .appPasswordRequired:
    text = "\(name) wants an app password, not the account password"
      + Advice(provider?.appPasswordPage.map { " (create one at \($0))" } ?? "")
      + ": `\(command: .rotate(account))`"
  case .basicAuthDisabled:
    text = "\(name) has turned off password authentication and wants OAuth2 — rotating the password will "
      + "not help: `\(command: OAuthCheck.authorizeCommand(account: account, provider: provider))`"
  case .noAuthOffered:
    text = "the server offers no password mechanism (PLAIN or LOGIN) here: check host and port, "
      + "or the provider accepts only OAuth2"
  case .starttlsMissing:
    text = "the server did not offer STARTTLS, so the secret was not sent: check the port "
      + "(\(endpoint.proto == .smtp ? "465" : "993") is implicit TLS), or a middlebox is stripping STARTTLS"
  case .tlsFailed:
    text = "TLS failed: the certificate must match \(endpoint.host) and chain to a trusted CA "
      + "(self-signed server such as Proton Bridge: `\(option: .caFile("CERT.pem"))`); also check that port "
      + "\(endpoint.port) speaks \(endpoint.security == .tls ? "TLS from the first byte" : "STARTTLS")"
  case .temporary:
    text = "the server reported a temporary failure: try again later"
  case .timeout where result.detail.contains("greeting") && result.probes.contains(where: { $0.method == .tlsHandshake }):
    // The probe asked: the port does not speak TLS either, so it is a slow or stuck server, or a middlebox.
    text = "no greeting in time, and port \(endpoint.port) does not speak implicit TLS either: the server is "
      + "overloaded or something between here and it swallows the connection; try again later or a longer \(option: .timeout)"
  case .timeout where result.detail.contains("greeting") && endpoint.security == .starttls:
    // An implicit-TLS port waits for our ClientHello while we wait for its greeting.
    text = "no greeting in time: if port \(endpoint.port) is implicit TLS, store it with "
      + "\(option: .security(endpoint.proto, .tls)); otherwise a firewall may block it (try a longer \(option: .timeout))"
  case .timeout:
    text = endpoint.proto == .smtp
      ? "no answer in time: a firewall or restrictive network may block outbound SMTP (\(endpoint.port)); "
        + "try another network or a longer \(option: .timeout)"
      : "no answer in time: a firewall or restrictive network may block port \(endpoint.port); "
        + "try another network or a longer \(option: .timeout)"
  case .refused:
    text = "nothing accepts connections on \(endpoint.hostAndPort): check the host name and port"
  case .dns:
    text = "\(endpoint.host) does not resolve: check its spelling and your network's DNS"
  case .unreachable:
    text = "no route to \(endpoint.host): check the network connection"
  case .protocolError:
    text = "unexpected answer: is \(endpoint.hostAndPort) really \(endpoint.proto == .smtp ? "an SMTP" : "an IMAP") "
      + "server with \(endpoint.security.rawValue) security?"
  }
  if let provider, provider.prefersStartTLS, endpoint.proto == .smtp, endpoint.port == 465 {
    text = text.joined(with: "\(provider.name) recommends port 587 with STARTTLS, not 465", separator: "; ")
  }
  return text
}

/// The hint for a cause the probes established, with the command that fixes it.
private func probeHint(
  _ conclusion: ProbeConclusion, endpoint: Endpoint, provider: Provider?, account: String, user: String?, kind: CredentialKind?
) -> Advice {
  let fix: Advice = conclusion.suggested(for: endpoint).map { "`\(command: replaceCommand(account: account, user: user, kind: kind, provider: provider, endpoint: $0))`" } ?? ""
  let proto = endpoint.proto
  switch conclusion {
  case .speaksImplicitTLS(let port):
    return "port \(port) speaks implicit TLS, not STARTTLS: \(fix)"
  case .speaksSTARTTLS(let port):
    return "port \(port) speaks STARTTLS (it greets in clear), not implicit TLS: \(fix)"
  case .alternativeAnswers(let blocked, let refused, let answering, _):
    let how = refused ? "refuses connections from here" : "is blocked from this network"
    return "\(blocked) \(how); \(answering) answers — use it: \(fix)"
  case .bothBlocked(let first, let second, let refused):
    let what = proto == .smtp ? "outbound mail is filtered here" : "IMAP is filtered on this network"
    if refused {
      return "\(first) and \(second) both refuse connections at \(endpoint.host): check the host name, or \(what)"
    }
    return "\(first) and \(second) both blocked: \(what) (try another network, or ask its administrator)"
  }
}

/// `add ACCOUNT`, replacing, with its user, provider and kind and the endpoint that works: the stored
/// credential again, with what the probes found (the secret is asked again).
public func replaceCommand(account: String, user: String?, kind: CredentialKind? = nil, provider: Provider?, endpoint: Endpoint) -> AdviceCommand {
  var options: [AdviceOption] = [.replace, .user(user ?? "USER")]
  if let provider { options.append(.provider(provider.id)) }
  if let kind, kind != .oauth2 { options.append(.kind(kind)) }
  options += [.server(endpoint.proto, endpoint.hostAndPort), .security(endpoint.proto, endpoint.security)]
  return AdviceCommand(.add, account, options)
}

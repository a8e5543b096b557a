/// One line telling the user what to do about a check's result, in the spirit of the classic mail
/// troubleshooting advice. Empty for a plain success.
///
/// `account` fills in commands such as `mailcred rotate ACCOUNT`; `kind` `.oauth2` gives OAuth2's hints.
public func hint(for result: CheckResult, provider: Provider?, account: String = "ACCOUNT", kind: CredentialKind? = nil) -> String {
  if kind == .oauth2, let text = OAuthCheck.hint(for: result, provider: provider, account: account) { return text }
  let endpoint = result.endpoint
  let name = provider?.name ?? "the provider"
  var text: String
  switch result.verdict {
  case .ok:
    text = ""
  case .rejected:
    if let provider, provider.basicAuthDisabled {
      text = "\(provider.name) no longer accepts passwords or app passwords: OAuth2 is required "
        + "(`\(OAuthCheck.authorizeCommand(account: account, provider: provider))`)"
    } else {
      text = "wrong or expired (app) password: `mailcred rotate \(account)`"
        + (provider?.appPasswordPage.map { " (new app password: \($0))" } ?? "")
        + "; if it keeps happening, check \(name)'s sign-in activity alerts"
    }
  case .appPasswordRequired:
    text = "\(name) wants an app password, not the account password"
      + (provider?.appPasswordPage.map { " (create one at \($0))" } ?? "")
      + ": `mailcred rotate \(account)`"
  case .basicAuthDisabled:
    text = "\(name) has turned off password authentication and wants OAuth2 — rotating the password will "
      + "not help: `\(OAuthCheck.authorizeCommand(account: account, provider: provider))`"
  case .noAuthOffered:
    text = "the server offers no password mechanism (PLAIN or LOGIN) here: check host and port, "
      + "or the provider accepts only OAuth2"
  case .starttlsMissing:
    text = "the server did not offer STARTTLS, so the secret was not sent: check the port "
      + "(\(endpoint.proto == .smtp ? "465" : "993") is implicit TLS), or a middlebox is stripping STARTTLS"
  case .tlsFailed:
    text = "TLS failed: the certificate must match \(endpoint.host) and chain to a trusted CA "
      + "(self-signed server such as Proton Bridge: `--ca-file CERT.pem`); also check that port "
      + "\(endpoint.port) speaks \(endpoint.security == .tls ? "TLS from the first byte" : "STARTTLS")"
  case .temporary:
    text = "the server reported a temporary failure: try again later"
  case .timeout where result.detail.contains("greeting") && endpoint.security == .starttls:
    // An implicit-TLS port waits for our ClientHello while we wait for its greeting.
    text = "no greeting in time: if port \(endpoint.port) is implicit TLS, store it with "
      + "--\(endpoint.proto.rawValue)-security tls; otherwise a firewall may block it (try a longer --timeout)"
  case .timeout:
    text = endpoint.proto == .smtp
      ? "no answer in time: a firewall or restrictive network may block outbound SMTP (\(endpoint.port)); "
        + "try another network or a longer --timeout"
      : "no answer in time: a firewall or restrictive network may block port \(endpoint.port); "
        + "try another network or a longer --timeout"
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
    let note = "\(provider.name) recommends port 587 with STARTTLS, not 465"
    text = text.isEmpty ? note : text + "; " + note
  }
  return text
}

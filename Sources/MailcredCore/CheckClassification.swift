// How a server's answer to the credentials becomes a result class (DESIGN.md "Checking a credential").
// Provider wording is matched as well as codes: Microsoft sends its OAuth2-only refusals with the same
// 535 that means "wrong password" elsewhere, and only the text and enhanced code tell them apart.

/// Phrases that mean the provider no longer accepts passwords at all (rotating will not help).
private let basicAuthDisabledPhrases = [
  "basic authentication is disabled", "smtpclientauthentication is disabled",
]
private let appPasswordPhrases = ["application-specific password required", "app password required"]

private func mentions(_ text: String, _ phrases: [String]) -> Bool {
  let lower = text.lowercased()
  return phrases.contains { lower.contains($0) }
}

/// The class of an SMTP server's final answer to AUTH.
public func classifySMTPAuthReply(_ reply: SMTPReply) -> CheckClass {
  if reply.code == 235 { return .ok }
  let text = reply.lines.joined(separator: " ")
  let enhanced = reply.enhanced
  if mentions(text, basicAuthDisabledPhrases) || enhanced == EnhancedStatus(5, 7, 139)
    || enhanced == EnhancedStatus(5, 7, 30)
  {
    return .basicAuthDisabled
  }
  if enhanced == EnhancedStatus(5, 7, 9) || mentions(text, appPasswordPhrases) { return .appPasswordRequired }
  switch reply.code {
  case 400..<500: return .temporary
  // 535 5.7.8 / 5.7.3: bad credentials; 534: mechanism too weak or a sign-in the provider blocked.
  case 534, 535: return .rejected
  // 504: mechanism not supported after all.
  case 504: return .noAuthOffered
  default: return enhanced == EnhancedStatus(5, 7, 8) ? .rejected : .protocolError
  }
}

/// The class of an IMAP server's tagged answer to AUTHENTICATE or LOGIN.
func classifyIMAPAuthResponse(_ status: IMAPStatus, _ code: IMAPResponseCode?, _ text: String) -> CheckClass {
  switch status {
  case .ok: return .ok
  case .bad: return .protocolError
  case .no:
    if mentions(text, basicAuthDisabledPhrases) { return .basicAuthDisabled }
    if mentions(text, appPasswordPhrases) { return .appPasswordRequired }
    switch code?.name {
    case "UNAVAILABLE", "INUSE", "LIMIT": return .temporary
    case "PRIVACYREQUIRED": return .protocolError
    // AUTHENTICATIONFAILED, AUTHORIZATIONFAILED, EXPIRED, CONTACTADMIN, none: the secret was judged.
    default: return .rejected
    }
  }
}

/// Public entry for tables and the CLI: the class of an IMAP status line (`NO [AUTHENTICATIONFAILED] …`)
/// answering the credentials; nil when the line is not a tagged status response.
public func classifyIMAPAuthLine(_ line: String) -> CheckClass? {
  guard case .tagged(_, let status, let code, let text)? = IMAPResponse(line: Array(line.utf8)) else { return nil }
  return classifyIMAPAuthResponse(status, code, text)
}

import MailcredCore
import MailcredSpelling

// Provider policy facts in `list`, `show` and `audit` (issue 18): a kind of credential the provider refuses
// is flagged without the network, with the command that fixes it.

extension Credential {
  /// `statusText`, plus a few words when the provider refuses (or will soon refuse) this kind.
  func statusText(withPolicyAt now: MailcredDate, warningDays: Int = ExpiryStatus.defaultWarningDays) -> String {
    let status = statusText(now: now, warningDays: warningDays)
    guard state == .current, let concern = policyWarning(now: now) else { return status }
    return "\(status), \(concern.short)"
  }
}

/// One warning on stderr per current credential whose kind its provider refuses.
func warnAboutProviderPolicies(_ entries: [CredentialStore.Entry], now: MailcredDate) {
  for entry in entries where entry.credential.state == .current {
    if let concern = entry.credential.policyWarning(now: now) { warn("\(entry.credential.account): \(concern.line.text)") }
  }
}

import MailcredCore

/// How each client spells the lines the doctor suggests and the import writes.
struct LineSyntax {
  var client: MailClient
  /// The account the lines are for (neomutt and aerc lines carry its URL).
  var account: ClientAccount?
  /// mbsync: `SSLType` for isync ≤ 1.4, `TLSType` from 1.5 on.
  var mbsyncTypeKeyword = "SSLType"

  init(client: MailClient, account: ClientAccount? = nil) {
    self.client = client
    self.account = account
  }

  /// The blanks a line starts with, so a suggested line sits where the old one did.
  func indent(of line: Int, in file: ConfigFile) -> String {
    guard line >= 1, line <= file.lines.count else { return "" }
    return String(decoding: file.lines[line - 1].bytes.prefix(while: { $0 == 0x20 || $0 == 0x09 }), as: UTF8.self)
  }

  var isSMTP: Bool { account?.proto != .imap }

  func securityLine(_ security: TransportSecurity, port: Int, turningOn: Bool = false) -> String {
    switch client {
    case .mbsync: return "\(mbsyncTypeKeyword) \(security == .tls ? "IMAPS" : "STARTTLS")"
    case .git: return "smtpEncryption = \(security == .tls ? "ssl" : "tls")"
    case .aerc: return urlLine(security: security, host: account?.host?.value ?? "HOST", port: port)
    case .neomutt:
      if turningOn { return "set ssl_starttls = yes" }
      return urlLine(security: security, host: account?.host?.value ?? "HOST", port: port)
    default:
      if turningOn { return "tls on" }
      return security == .tls ? "tls_starttls off" : "tls_starttls on"
    }
  }

  /// neomutt: the account's URL variable with a new scheme, host or port (and no password in it).
  func urlLine(security: TransportSecurity, host: String, port: Int, mechanism: String? = nil) -> String {
    let base = isSMTP ? "smtp" : "imap"
    var scheme = security == .tls ? base + "s" : base
    let user = account?.user.map { SetupBlock.percentEncoded($0.value) + "@" } ?? ""
    if client == .aerc {
      if let mechanism = mechanism ?? account?.authMethod?.value { scheme += "+" + mechanism }
      return "\(account?.urlKey ?? (isSMTP ? "outgoing" : "source")) = \(scheme)://\(user)\(host):\(port)"
    }
    return "set \(account?.urlKey ?? (isSMTP ? "smtp_url" : "folder")) = \"\(scheme)://\(user)\(host):\(port)/\""
  }

  func hostLine(_ host: String) -> String {
    switch client {
    case .mbsync: return "Host \(host)"
    case .git: return "smtpServer = \(host)"
    case .aerc: return urlLine(security: account?.security ?? .starttls, host: host, port: account?.effectivePort ?? 587)
    case .neomutt: return urlLine(security: account?.security ?? .starttls, host: host, port: account?.effectivePort ?? 587)
    default: return "host \(host)"
    }
  }

  var certificateCheckLine: String {
    switch client {
    // neomutt's reader keeps the variable's name as the setting's value.
    case .neomutt: return "set \(account?.certificateCheckOff?.value ?? "ssl_verify_host") = yes"
    case .git: return "smtpSslCertPath = /etc/ssl/certs"
    default: return "tls_certcheck on"
    }
  }

  var oauthLine: String {
    switch client {
    case .mbsync: return "AuthMechs XOAUTH2"
    case .git: return "smtpAuth = XOAUTH2"
    case .aerc: return urlLine(security: account?.security ?? .tls, host: account?.host?.value ?? "HOST", port: account?.effectivePort ?? 993, mechanism: "xoauth2")
    case .neomutt: return "set \(isSMTP ? "smtp" : "imap")_authenticators = \"xoauth2\""
    default: return "auth xoauth2"
    }
  }

  /// The line that makes the client ask mailcred for its secret.
  func commandLine(_ command: String) -> String {
    switch client {
    case .mbsync: return "PassCmd \(MbsyncSyntax.quote(command))"
    case .git: return "# smtpPass: in mailcred now (git send-email asks credential.helper = mailcred)"
    case .aerc: return "\(account?.urlKey ?? (isSMTP ? "outgoing" : "source"))-cred-cmd = \(command)"
    case .neomutt: return "set \(isSMTP ? "smtp" : "imap")_pass = \"`\(command)`\""
    default: return "passwordeval \"\(command)\""
    }
  }
}

/// `value` between double quotes with `"` and `\` escaped by a backslash: how mbsync and neomutt both
/// read a quoted value back.
func backslashQuoted(_ value: String) -> String {
    var out = "\""
    for character in value {
      if character == "\"" || character == "\\" { out.append("\\") }
      out.append(character)
    }
    return out + "\""
}

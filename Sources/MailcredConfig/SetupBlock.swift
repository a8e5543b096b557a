import MailcredCore

/// A configuration block for a stored credential, as each client wants it: the right port and
/// encryption, the mailcred command for the secret, XOAUTH2 for an OAuth2 credential.
public enum SetupBlock {
  public enum Problem: Error, Equatable {
    case needs(MailProtocol, String)
    public var message: Advice {
      switch self {
      case .needs(let proto, let account):
        return "\(account) has no \(proto.rawValue.uppercased()) server (`\(command: .init(.add, account, [.replace, .server(proto, "HOST[:PORT]")])) ...`)"
      }
    }
  }

  public static func text(for client: MailClient, credential c: Credential, caFile: String?, mbsyncVersion: (Int, Int)? = nil) throws(Problem) -> String {
    let oauth = c.kind == .oauth2
    let get = MailcredCommand.get(c.account)
    switch client {
    case .msmtp:
      guard let smtp = c.smtp else { throw .needs(.smtp, c.account) }
      var lines = ["account \(c.account)", "host \(smtp.host)", "port \(smtp.port)"]
      if smtp.security == .plain { lines.append("tls off") } else {
        lines += ["tls on", "tls_starttls \(smtp.security == .starttls ? "on" : "off")"]
      }
      if let caFile { lines.append("tls_trust_file \(MsmtpSyntax.quote(caFile))") }
      lines += ["auth \(oauth ? "xoauth2" : "on")", "user \(c.user)", "from \(c.user)", "passwordeval \"\(get)\""]
      return lines.joined(separator: "\n") + "\n"
    case .mbsync:
      guard let imap = c.imap else { throw .needs(.imap, c.account) }
      let typeKeyword = (mbsyncVersion ?? (1, 4)) >= (1, 5) ? "TLSType" : "SSLType"
      let type = imap.security == .tls ? "IMAPS" : imap.security == .starttls ? "STARTTLS" : "None"
      var lines = [
        "IMAPAccount \(c.account)", "Host \(imap.host)", "Port \(imap.port)", "User \(MbsyncSyntax.quote(c.user))",
        "PassCmd \(MbsyncSyntax.quote(get))", "\(typeKeyword) \(type)",
      ]
      if let caFile { lines.append("CertificateFile \(MbsyncSyntax.quote(caFile))") }
      // Cyrus SASL's XOAUTH2 plugin, when installed, is otherwise tried first with the password as a token.
      lines.append(oauth ? "AuthMechs XOAUTH2" : "AuthMechs PLAIN LOGIN")
      lines += [
        "", "IMAPStore \(c.account)-remote", "Account \(c.account)",
        "", "MaildirStore \(c.account)-local", "Path ~/Mail/\(c.account)/", "Inbox ~/Mail/\(c.account)/INBOX", "SubFolders Verbatim",
        "", "Channel \(c.account)", "Far :\(c.account)-remote:", "Near :\(c.account)-local:", "Patterns *", "Create Near", "SyncState *",
      ]
      return lines.joined(separator: "\n") + "\n"
    case .neomutt:
      guard c.smtp != nil || c.imap != nil else { throw .needs(.smtp, c.account) }
      var lines = ["set from = \"\(c.user)\""]
      if let smtp = c.smtp {
        let scheme = smtp.security == .tls ? "smtps" : "smtp"
        lines += ["set smtp_url = \"\(scheme)://\(smtp.hostAndPort)/\"", "set smtp_user = \"\(c.user)\"", "set smtp_pass = \"`\(get)`\""]
        if oauth { lines.append("set smtp_authenticators = \"xoauth2\"") }
      }
      if let imap = c.imap {
        let scheme = imap.security == .tls ? "imaps" : "imap"
        lines += ["set folder = \"\(scheme)://\(imap.hostAndPort)/\"", "set spoolfile = \"+INBOX\"", "set imap_user = \"\(c.user)\"", "set imap_pass = \"`\(get)`\""]
        if oauth { lines.append("set imap_authenticators = \"xoauth2\"") }
      }
      lines += ["set ssl_starttls = yes", "set ssl_force_tls = yes"]
      if let caFile { lines.append("set ssl_ca_certificates_file = \"\(caFile)\"") }
      return lines.joined(separator: "\n") + "\n"
    case .aerc:
      guard let smtp = c.smtp, let imap = c.imap else { throw .needs(c.smtp == nil ? .smtp : .imap, c.account) }
      let user = percentEncoded(c.user)
      let auth = oauth ? "+xoauth2" : ""
      let source = (imap.security == .tls ? "imaps" : imap.security == .starttls ? "imap" : "imap+insecure") + auth
      let outgoing = (smtp.security == .tls ? "smtps" : smtp.security == .starttls ? "smtp" : "smtp+insecure") + auth
      return ([
        "[\(c.account)]", "source = \(source)://\(user)@\(imap.hostAndPort)", "source-cred-cmd = \(get)",
        "outgoing = \(outgoing)://\(user)@\(smtp.hostAndPort)", "outgoing-cred-cmd = \(get)",
      ] + (smtp.security == .starttls ? ["smtp-starttls = yes"] : []) + ["from = \(c.user)", "default = INBOX"]).joined(separator: "\n") + "\n"
    case .git:
      guard let smtp = c.smtp else { throw .needs(.smtp, c.account) }
      var lines = [
        "[sendemail]", "\tsmtpServer = \(smtp.host)", "\tsmtpServerPort = \(smtp.port)",
        "\tsmtpEncryption = \(smtp.security == .tls ? "ssl" : smtp.security == .starttls ? "tls" : "none")", "\tsmtpUser = \(c.user)",
      ]
      if let caFile { lines.append("\tsmtpSSLCertPath = \(caFile)") }
      if oauth { lines.append("\tsmtpAuth = XOAUTH2") }
      lines += ["[credential \"smtp://\(smtp.hostAndPort)\"]", "\thelper = mailcred"]
      return lines.joined(separator: "\n") + "\n"
    }
  }

  /// The line that names the block, for --append to refuse a second copy.
  public static func header(for client: MailClient, account: String) -> String? {
    switch client {
    case .msmtp: return "account \(account)"
    case .mbsync: return "IMAPAccount \(account)"
    case .aerc: return "[\(account)]"
    case .neomutt, .git: return nil
    }
  }

  /// RFC 3986 userinfo: `@`, `:` and anything outside unreserved characters percent-encoded.
  static func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
      let c = Character(Unicode.Scalar(byte))
      if byte < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) { out.append(c) } else {
        out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
      }
    }
    return out
  }
}

extension String {
  func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

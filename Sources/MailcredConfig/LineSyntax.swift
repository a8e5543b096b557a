import MailcredCore

/// How each client spells the lines the doctor suggests and the import writes.
struct LineSyntax {
  var client: MailClient
  /// mbsync: `SSLType` for isync ≤ 1.4, `TLSType` from 1.5 on.
  var mbsyncTypeKeyword = "SSLType"

  /// The blanks a line starts with, so a suggested line sits where the old one did.
  func indent(of line: Int, in file: ConfigFile) -> String {
    guard line >= 1, line <= file.lines.count else { return "" }
    return String(decoding: file.lines[line - 1].bytes.prefix(while: { $0 == 0x20 || $0 == 0x09 }), as: UTF8.self)
  }

  func securityLine(_ security: TransportSecurity, port: Int, turningOn: Bool = false) -> String {
    switch client {
    case .mbsync: return "\(mbsyncTypeKeyword) \(security == .tls ? "IMAPS" : "STARTTLS")"
    default:
      if turningOn { return "tls on" }
      return security == .tls ? "tls_starttls off" : "tls_starttls on"
    }
  }

  func hostLine(_ host: String) -> String { client == .mbsync ? "Host \(host)" : "host \(host)" }

  var oauthLine: String { client == .mbsync ? "AuthMechs XOAUTH2" : "auth xoauth2" }

  /// The line that makes the client ask mailcred for its secret.
  func commandLine(_ command: String) -> String {
    switch client {
    case .mbsync: return "PassCmd \(MbsyncSyntax.quote(command))"
    default: return "passwordeval \"\(command)\""
    }
  }
}

import MailcredCore

/// The accounts of aerc's accounts.conf: `[NAME]` sections with `source` (IMAP) and `outgoing` (SMTP)
/// URLs, whose scheme says the security (`imaps`, `imap` = STARTTLS, `imap+insecure`) and optionally the
/// mechanism (`smtps+plain`, `imaps+xoauth2`) — for SMTP STARTTLS also needs `smtp-starttls = yes` in
/// aerc 0.14 — a password possibly inside the URL, and
/// `source-cred-cmd` / `outgoing-cred-cmd`. Values are the rest of the line after `=`, blanks trimmed;
/// lines starting with `#` or `;` are comments.
public struct AercConfig: Sendable {
  public var accounts: [ClientAccount]

  public init(_ file: ConfigFile) {
    accounts = []
    var section: (name: String, line: Int)? = nil
    var values: [String: (text: String, line: Int, range: Range<Int>)] = [:]
    func finish(at end: Int) {
      defer { section = nil; values = [:] }
      guard let current = section else { return }
      for (key, proto) in [("source", MailProtocol.imap), ("outgoing", .smtp)] {
        if let account = Self.account(current.name, key: key, proto: proto, values: values, file: file) {
          var account = account
          account.line = current.line
          account.sectionEnd = end
          accounts.append(account)
        }
      }
    }
    for (index, line) in file.lines.enumerated() {
      let number = index + 1
      let bytes = line.bytes
      var i = 0
      while i < bytes.count, MsmtpSyntax.isBlank(bytes[i]) { i += 1 }
      guard i < bytes.count, bytes[i] != UInt8(ascii: "#"), bytes[i] != UInt8(ascii: ";") else { continue }
      if bytes[i] == UInt8(ascii: "["), let close = bytes.lastIndex(of: UInt8(ascii: "]")), close > i {
        finish(at: number - 1)
        section = (String(decoding: bytes[(i + 1)..<close], as: UTF8.self), number)
        continue
      }
      guard section != nil, let equals = bytes[i...].firstIndex(of: UInt8(ascii: "=")) else { continue }
      let key = String(decoding: bytes[i..<equals], as: UTF8.self).trimmingCharacters(in: [" ", "\t"]).lowercased()
      var start = equals + 1
      while start < bytes.count, MsmtpSyntax.isBlank(bytes[start]) { start += 1 }
      var end = bytes.count
      while end > start, MsmtpSyntax.isBlank(bytes[end - 1]) { end -= 1 }
      if end - start >= 2, bytes[start] == UInt8(ascii: "\""), bytes[end - 1] == UInt8(ascii: "\"") { start += 1; end -= 1 }
      // A URL may hold a password: keep it as bytes; only its parts are turned into text.
      let isURL = key == "source" || key == "outgoing"
      values[key] = (isURL ? "" : String(decoding: bytes[start..<end], as: UTF8.self), number, start..<end)
    }
    finish(at: file.lines.count)
  }

  static func account(_ name: String, key: String, proto: MailProtocol, values: [String: (text: String, line: Int, range: Range<Int>)], file: ConfigFile) -> ClientAccount? {
    guard let value = values[key] else { return nil }
    let raw = Array(file.lines[value.line - 1].bytes[value.range])
    guard let url = MailURL(raw) else { return nil }
    let parts = url.scheme.split(separator: "+").map(String.init)
    let base = proto == .smtp ? "smtp" : "imap"
    guard parts.first == base || parts.first == base + "s" else { return nil }
    // aerc 0.14 (Debian's): `imap://` is STARTTLS, but `smtp://` is clear text unless `smtp-starttls = yes`.
    // Only the exact word `yes` counts, although its own aerc-smtp(5) says `true`: measured with 0.14.0 against
    // Dovecot, `true` leaves STARTTLS unset, and aerc drops the connection after EHLO ("STARTTLS is supported
    // by this server, but not set") without showing why. Later aerc made smtp:// STARTTLS and dropped the option.
    let option = values["smtp-starttls"]
    let starttlsOption = option?.text == "yes"
    let security: TransportSecurity = parts[0].hasSuffix("s") ? .tls : parts.contains("insecure") ? .plain
      : (proto == .smtp && !starttlsOption) ? .plain : .starttls
    var account = ClientAccount(client: .aerc, name: name, path: file.path, line: value.line, proto: proto, security: security)
    account.urlKey = key
    if proto == .smtp, security == .plain, !parts.contains("insecure"), let option { account.ignoredOption = Setting(option.text, path: file.path, line: option.line) }
    account.host = Setting(url.host, path: file.path, line: value.line)
    account.port = url.port.map { Setting($0, path: file.path, line: value.line) }
    account.defaultPort = proto == .smtp ? (security == .tls ? 465 : 587) : (security == .tls ? 993 : 143)
    account.user = url.user.map { Setting($0, path: file.path, line: value.line) }
    account.securityLine = Setting(url.scheme, path: file.path, line: value.line)
    if let mechanism = parts.dropFirst().first(where: { $0 != "insecure" }) {
      account.authMethod = Setting(mechanism, path: file.path, line: value.line)
    }
    if let command = values["\(key)-cred-cmd"] {
      account.passwordCommand = Setting(command.text, path: file.path, line: command.line)
    } else if let range = url.passwordRange {
      let offset = value.range.lowerBound
      account.plaintext = PlaintextSecret(
        path: file.path, line: value.line, keyword: "password in \(key)", range: (offset + range.lowerBound)..<(offset + range.upperBound),
        quoting: .url, owner: name)
    }
    return account
  }
}

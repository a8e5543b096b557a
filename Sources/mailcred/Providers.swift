import ArgumentParser
import MailcredCore
import MailcredSpelling

extension Mailcred {
  struct Providers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the provider presets for `add --provider`.")

    @Flag(help: "Write a JSON array.")
    var json = false

    struct Report: Encodable {
      var id: String
      var name: String
      var smtp: String
      var imap: String
      var app_passwords: String
      var app_password_page: String?
      var basic_auth_disabled: Bool
      var notes: [String]
    }

    func run() {
      let reports = Provider.all.map { p in
        Report(
          id: p.id, name: p.name, smtp: "\(p.smtp.hostAndPort) \(p.smtp.security.rawValue)",
          imap: "\(p.imap.hostAndPort) \(p.imap.security.rawValue)", app_passwords: p.appPasswords.rawValue,
          app_password_page: p.appPasswordPage, basic_auth_disabled: p.basicAuthDisabled, notes: p.notes.map(\.text))
      }
      if json {
        Terminal.writeOut(encodeJSON(reports))
        return
      }
      Terminal.writeOut(table(
        ["ID", "SMTP", "IMAP", "APP PASSWORDS"],
        reports.map { [$0.id, $0.smtp, $0.imap, $0.basic_auth_disabled ? "rejected (OAuth2 only)" : $0.app_passwords] }))
    }
  }
}

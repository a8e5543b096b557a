import MailcredConfig
import MailcredCore
import MailcredSpelling

/// git send-email's accounts, read through the real `git config` (so includes, XDG and the repository's
/// own config count as git counts them) and located in the files it names.
enum GitSendemail {
  struct Read {
    var accounts: [ClientAccount]
    var files: [String: ClientFiles.Loaded]
  }

  /// Keys whose values git may print (never `smtppass`: only where it is, never what it is).
  static let valueKeys = #"^sendemail\.(.+\.)?smtp(server|serverport|encryption|user|sslcertpath|auth)$"#

  static func read() -> Read {
    var entries: [GitSendemailConfig.Entry] = []
    if let listed = captureOutput("git", ["config", "--show-origin", "-z", "--get-regexp", valueKeys]) {
      let fields = listed.split(separator: "\0", omittingEmptySubsequences: false)
      var i = 0
      while i + 1 < fields.count {
        let origin = fields[i]
        let keyValue = fields[i + 1].split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        if origin.hasPrefix("file:"), let key = keyValue.first {
          entries.append(.init(key: String(key), value: keyValue.count == 2 ? String(keyValue[1]) : "", origin: String(origin.dropFirst(5))))
        }
        i += 2
      }
    }
    if let listed = captureOutput("git", ["config", "--show-origin", "-z", "--name-only", "--get-regexp", #"^sendemail\.(.+\.)?smtppass$"#]) {
      let fields = listed.split(separator: "\0", omittingEmptySubsequences: false)
      var i = 0
      while i + 1 < fields.count {
        if fields[i].hasPrefix("file:") { entries.append(.init(key: String(fields[i + 1]), value: nil, origin: String(fields[i].dropFirst(5)))) }
        i += 2
      }
    }
    var files: [String: ClientFiles.Loaded] = [:]
    for origin in Set(entries.map(\.origin)) {
      if let loaded = try? ClientFiles.load(origin) { files[origin] = loaded }
    }
    var accounts = GitSendemailConfig(entries: entries, files: files.mapValues(\.file)).accounts
    for index in accounts.indices where accounts[index].plaintext == nil {
      guard let endpoint = ImportPlan.endpoint(of: accounts[index]) else { continue }
      // The helper git would run for this server.
      if let helper = captureOutput("git", ["config", "--get-urlmatch", "credential.helper", "smtp://\(endpoint.hostAndPort)"]) {
        let value = helper.split(separator: "\n").last.map(String.init) ?? ""
        if !value.isEmpty { accounts[index].passwordCommand = Setting(value, path: accounts[index].path, line: accounts[index].line) }
      }
    }
    return Read(accounts: accounts, files: files)
  }

  /// Whether git already asks mailcred for this server's password (then import adds no helper section).
  static func helperIsMailcred(for endpoint: Endpoint) -> Bool {
    guard let helper = captureOutput("git", ["config", "--get-urlmatch", "credential.helper", "smtp://\(endpoint.hostAndPort)"]) else { return false }
    var probe = ClientAccount(client: .git, name: "", path: "", line: 0, proto: .smtp, security: .starttls)
    probe.passwordCommand = Setting(helper.split(separator: "\n").last.map(String.init) ?? "", path: "", line: 0)
    return probe.usesMailcredHelper
  }
}

import Foundation
import Testing

/// A "server" of the fleet story: its own HOME (ClientWorkspace), an AppRole of its own whose policy reads
/// one account, a mailcred config naming the store, and an msmtprc with `passwordeval "mailcred get relay"`.
struct FleetServer {
  let ws: ClientWorkspace
  let env: [String: String?]
  let user: String
  /// The AppRole role's name.
  let role: String

  /// `bao` runs the OpenBao CLI as the admin (root token) against the store's server or cluster.
  init(
    _ name: String, store: String, caFile: String, approleMount mount: String, policy: String, user: String,
    bao: ([String]) throws -> Harness.Output
  ) throws {
    ws = try ClientWorkspace("fleet-\(name)")
    self.user = user
    let role = Harness.uniqueName(name)
    self.role = role
    try #require(try bao(["write", "auth/\(mount)/role/\(role)", "token_policies=\(policy)", "token_ttl=10m"]).status == 0)
    let roleID = try bao(["read", "-field=role_id", "auth/\(mount)/role/\(role)/role-id"])
    let secretID = try bao(["write", "-f", "-field=secret_id", "auth/\(mount)/role/\(role)/secret-id"])
    try #require(roleID.status == 0 && secretID.status == 0, "\(roleID.stderr) \(secretID.stderr)")
    let roleFile = try ws.write("etc/role-id", roleID.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
    let secretFile = try ws.write("etc/secret-id", secretID.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "\n")
    try ws.write(
      "config/mailcred/config",
      "store = \(store)\nca-file = \(caFile)\nrole-id-file = \(roleFile)\nsecret-id-file = \(secretFile)\napprole-mount = \(mount)\n")
    try FileManager.default.createDirectory(atPath: ws.path + "/runtime", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    var env = ws.environment
    env["XDG_CONFIG_HOME"] = ws.path + "/config"
    env["XDG_RUNTIME_DIR"] = ws.path + "/runtime"
    env["MAILCRED_STORE"] = nil
    env["BAO_TOKEN"] = nil
    env["BAO_CACERT"] = nil
    self.env = env
    try ws.write("msmtprc", """
      defaults
      tls on
      tls_trust_file \(Harness.caFile)

      account relay
      host 127.0.0.1
      port \(Harness.submissionPort)
      tls_starttls on
      auth on
      user \(user)
      from \(user)
      passwordeval "mailcred get relay"

      """)
  }

  /// One message through msmtp; whether it reached the mailbox.
  @discardableResult
  func send(_ label: String) throws -> Bool {
    let marker = Mail.marker(label)
    let sent = try Harness.run(
      "/usr/bin/setsid", ["-w", "/usr/bin/msmtp", "-C", ws.path + "/msmtprc", "-a", "relay", "--", "rcpt@example.test"],
      stdin: Mail.message(from: user, to: "rcpt@example.test", marker: marker), environment: env)
    expectNoLeak(sent, "msmtp")
    #expect(sent.status == 0, "msmtp (\(label)): \(sent.stderr)")
    return sent.status == 0 && Mail.delivered(marker) != nil
  }

  func mailcred(_ arguments: [String], stdin: String? = nil, deadline: Double = 60) throws -> Harness.Output {
    try Harness.mailcred(arguments, stdin: stdin, environment: env, deadline: deadline)
  }

  /// The AppRole token cache files of this server (mode and count).
  func cachedTokens() throws -> [Int] {
    let dir = ws.path + "/runtime/mailcred"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return try names.filter { $0.hasPrefix("openbao-token-") }.map { name in
      let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/" + name)
      return (attributes[.posixPermissions] as? Int) ?? -1
    }
  }
}

import Foundation
import Testing

/// One test's corner of the harness directory for the real mail clients: their HOME, their configuration
/// files (mode 600, as msmtp demands), and `bin/` laid out as `make install` lays it out (`mailcred`, and
/// `git-credential-mailcred` as a relative link to it) at the front of PATH. So every configuration line a
/// test writes is exactly the documented one: `passwordeval "mailcred get work"`, `helper = mailcred`.
struct ClientWorkspace {
  let path: String

  init(_ name: String) throws {
    let root = try #require(Harness.directory) + "/clients"
    path = root + "/" + Harness.uniqueName(name)
    let files = FileManager.default
    try files.createDirectory(atPath: path + "/bin", withIntermediateDirectories: true)
    try files.createSymbolicLink(atPath: path + "/bin/mailcred", withDestinationPath: try #require(Harness.binary))
    try files.createSymbolicLink(atPath: path + "/bin/git-credential-mailcred", withDestinationPath: "mailcred")
  }

  /// No GUI, no terminal prompt, no system or user git configuration but ours.
  var environment: [String: String?] {
    [
      "HOME": path, "PATH": path + "/bin:" + (Harness.environment["PATH"] ?? "/usr/bin:/bin"),
      "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": nil, "SSH_ASKPASS": nil,
      "MAILCRED_TEST_CANARY": nil,  // the leak watcher looks for the marker in every process's environment
      "GIT_AUTHOR_NAME": "Mail Cred", "GIT_AUTHOR_EMAIL": "author@example.test",
      "GIT_COMMITTER_NAME": "Mail Cred", "GIT_COMMITTER_EMAIL": "author@example.test",
    ]
  }

  /// Writes a file readable only by us and returns its path.
  @discardableResult
  func write(_ name: String, _ text: String) throws -> String {
    let file = path + "/" + name
    try FileManager.default.createDirectory(
      atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
    return file
  }

  /// Runs a client in a new session (`setsid -w`): with no controlling terminal msmtp's and git's password
  /// prompts cannot open /dev/tty, so a missing secret fails at once instead of waiting for a person.
  @discardableResult
  func run(_ program: String, _ arguments: [String], stdin: String? = nil, in directory: String? = nil, deadline: Double = 60) throws -> Harness.Output {
    let command = directory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0] } ?? []
    return try Harness.run(
      "/usr/bin/setsid", ["-w"] + command + [program] + arguments, stdin: stdin, environment: environment,
      deadline: deadline)
  }

  /// Runs `mailcred` with this workspace's environment (Harness.mailcred checks its output for leaks).
  @discardableResult
  func mailcred(_ arguments: [String], stdin: String? = nil) throws -> Harness.Output {
    try Harness.mailcred(arguments, stdin: stdin, environment: environment)
  }
}

/// What arrived where: the harness's relay sink (every message Dovecot submission accepted) and Dovecot's log.
enum Mail {
  /// A unique token for one message: its Subject, found again in the sink.
  static func marker(_ prefix: String) -> String { Harness.uniqueName("\(prefix)-msg") }

  static func message(from: String, to: String, marker: String) -> String {
    "From: \(from)\nTo: \(to)\nSubject: \(marker)\nMessage-ID: <\(marker)@example.test>\n\nbody of \(marker)\n"
  }

  /// The delivered message whose text contains `marker`, polling the sink Maildir up to `seconds`.
  static func delivered(_ marker: String, within seconds: Double = 10) -> String? {
    let dir = (Harness.environment["MAILCRED_TEST_SINK"] ?? "") + "/new"
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
        if let text = try? String(contentsOfFile: dir + "/" + name, encoding: .utf8), text.contains(marker) {
          return text
        }
      }
      Thread.sleep(forTimeInterval: 0.05)
    } while Date() < deadline
    return nil
  }

  /// Dovecot's log from a point on: `let log = Mail.DovecotLog(); ...; log.newLines()`.
  struct DovecotLog {
    static var path: String { (Harness.directory ?? "") + "/logs/dovecot.log" }
    let start: Int

    init() {
      start = ((try? FileManager.default.attributesOfItem(atPath: Self.path))?[.size] as? Int) ?? 0
    }

    /// What Dovecot logged since `init`, after giving it `settle` seconds to write a disconnect line.
    func newLines(settle: Double = 0.7) -> String {
      Thread.sleep(forTimeInterval: settle)
      guard let handle = FileHandle(forReadingAtPath: Self.path) else { return "" }
      defer { try? handle.close() }
      try? handle.seek(toOffset: UInt64(start))
      return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }
  }

  /// Puts a message into a Dovecot user's INBOX the way a delivery agent would (doveadm save runs as the
  /// mail user, so the Maildir gets the right owner).
  static func deliverToDovecot(user: String, message: String) throws {
    let config = try #require(Harness.directory) + "/dovecot/dovecot.conf"
    let saved = try Harness.run(
      "/usr/bin/doveadm", ["-c", config, "save", "-u", user], stdin: message, environment: ["MAILCRED_TEST_CANARY": nil])
    #expect(saved.status == 0, "doveadm save: \(saved.stderr)")
  }
}

/// Every secret in captured client output is a leak, except where printing it is the point.
func expectNoLeak(_ output: Harness.Output, _ what: String, stdoutMayHoldSecret: Bool = false) {
  #expect(!output.stderr.contains(Harness.canary), "\(what) printed a secret on stderr")
  if !stdoutMayHoldSecret { #expect(!output.stdout.contains(Harness.canary), "\(what) printed a secret on stdout") }
}

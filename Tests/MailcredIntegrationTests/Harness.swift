import Foundation
import MailcredNet
import Testing

/// The test environment that `scripts/test` starts (private D-Bus, gnome-keyring, Dovecot, aiosmtpd) and
/// describes in environment variables. Integration tests run only inside it.
enum Harness {
  static let environment = ProcessInfo.processInfo.environment

  /// Set by scripts/test-env; without it the real-keyring and real-server tests are skipped, and
  /// scripts/test always sets it.
  static var directory: String? { environment["MAILCRED_TEST_DIR"] }
  static var available: Bool { directory != nil && binary != nil }

  static var binary: String? {
    if let path = environment["MAILCRED_BIN"] { return path }
    return nil
  }

  static var caFile: String { environment["MAILCRED_TEST_CA"] ?? "" }
  static func port(_ name: String) -> Int { Int(environment["MAILCRED_TEST_\(name)_PORT"] ?? "") ?? 0 }
  static var submissionPort: Int { port("SUBMISSION") }
  static var submissionsPort: Int { port("SUBMISSIONS") }
  static var imapPort: Int { port("IMAP") }
  static var imapsPort: Int { port("IMAPS") }
  static var aiosmtpdPort: Int { port("AIOSMTPD") }
  static var scripts: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("scripts").path
  }

  struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
    var stdoutBytes: [UInt8]
  }

  /// Runs a program with optional stdin, extra environment, and a hard deadline (a hang fails the test
  /// instead of blocking the suite).
  @discardableResult
  static func run(
    _ executable: String, _ arguments: [String], stdin: String? = nil, stdinBytes: [UInt8]? = nil,
    environment extra: [String: String?] = [:], deadline: Double = 60
  ) throws -> Output {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = environment
    for (key, value) in extra { env[key] = value }
    process.environment = env
    let input = Pipe()
    let output = Pipe()
    let error = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = error
    // Bounded even when the child's exit goes unnoticed: Foundation learns of it through a socket the child
    // inherits, and a daemon the child started that kept the socket would make waitUntilExit wait forever.
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    let start = Date()
    try process.run()
    if let bytes = stdinBytes ?? stdin.map({ Array($0.utf8) }) {
      input.fileHandleForWriting.write(Data(bytes))
    }
    try? input.fileHandleForWriting.close()
    // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
      outData = output.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
      errData = error.fileHandleForReading.readDataToEndOfFile()
      group.leave()
    }
    let timer = DispatchSource.makeTimerSource()
    timer.schedule(deadline: .now() + deadline)
    timer.setEventHandler { if process.isRunning { process.terminate() } }
    timer.resume()
    let noticed = exited.wait(timeout: .now() + deadline + 10) == .success
    timer.cancel()
    if !noticed {
      Issue.record("\(executable) \(arguments): its exit went unnoticed for \(deadline + 10) s (a daemon it started holds Foundation's exit socket: close inherited descriptors before daemonizing)")
      return Output(status: -1, stdout: "", stderr: "", seconds: Date().timeIntervalSince(start), stdoutBytes: [])
    }
    // A grandchild that keeps our pipes open must not hang the suite either.
    if group.wait(timeout: .now() + 5) == .timedOut {
      Issue.record("\(executable) left a process holding its output open")
    }
    let seconds = Date().timeIntervalSince(start)
    if seconds >= deadline { Issue.record("\(executable) \(arguments) hit the \(deadline) s deadline") }
    return Output(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self), seconds: seconds, stdoutBytes: Array(outData))
  }

  /// Runs the built `mailcred`. Only `get` and the git helper may print a secret, and only on stdout:
  /// every other output is checked for the canary here, so every end-to-end test is also a leak test.
  @discardableResult
  static func mailcred(_ arguments: [String], stdin: String? = nil, stdinBytes: [UInt8]? = nil, environment: [String: String?] = [:], deadline: Double = 60) throws -> Output {
    let output = try run(try #require(binary), arguments, stdin: stdin, stdinBytes: stdinBytes, environment: environment, deadline: deadline)
    let printsSecrets = ["get", "credential-helper"].contains(arguments.first ?? "")
    #expect(!output.stderr.contains(canary), "mailcred \(arguments.first ?? "") wrote a secret to stderr")
    #expect(printsSecrets || !output.stdout.contains(canary), "mailcred \(arguments.first ?? "") wrote a secret to stdout")
    return output
  }

  /// Creates or changes a mail user on the harness servers (password on stdin, never argv).
  static func setPassword(user: String, password: String) throws {
    let result = try run(scripts + "/harness/set-password", [try #require(directory), user], stdin: password + "\n")
    #expect(result.status == 0, "set-password failed: \(result.stderr)")
  }

  static func lockKeyring() throws {
    let result = try run(scripts + "/harness/keyring-lock", [try #require(directory)])
    #expect(result.status == 0, "keyring-lock failed: \(result.stderr)")
  }

  static func unlockKeyring() throws {
    let result = try run(scripts + "/harness/keyring-unlock", [try #require(directory)])
    #expect(result.status == 0, "keyring-unlock failed: \(result.stderr)")
  }

  /// The bus of the second Secret Service scripts/test-env starts: KeePassXC, headless.
  static var keepassxcBus: String { environment["MAILCRED_TEST_KPXC_BUS"] ?? "" }
  static var keepassxcDirectory: String { environment["MAILCRED_TEST_KPXC_DIR"] ?? "" }
  /// What makes a mailcred process talk to KeePassXC instead of gnome-keyring.
  static var keepassxcEnvironment: [String: String?] { ["DBUS_SESSION_BUS_ADDRESS": keepassxcBus] }

  /// `scripts/harness/keepassxc lock|unlock` on the suite's KeePassXC.
  static func keepassxc(_ command: String, directory: String? = nil) throws {
    let result = try run(scripts + "/harness/keepassxc", [command, directory ?? keepassxcDirectory])
    #expect(result.status == 0, "keepassxc \(command) failed: \(result.stderr)")
  }

  /// A process the test environment started ("LABEL PID STARTTIME" lines of DIR/pids): the newest one still
  /// alive, since a fault test may have killed and restarted it.
  static func recordedPid(_ label: String) -> pid_t? {
    guard let directory, let pids = try? String(contentsOfFile: directory + "/pids", encoding: .utf8) else { return nil }
    var found: pid_t?
    for line in pids.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, fields[0] == label, let pid = pid_t(fields[1]), FileManager.default.fileExists(atPath: "/proc/\(pid)") {
        found = pid
      }
    }
    return found
  }

  /// A unique name per test so that a failure leaves nothing that breaks the next test.
  static func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
  }

  /// Every secret the tests store contains this marker, so the leak check can find any copy of one.
  static let canary = environment["MAILCRED_TEST_CANARY"] ?? "MCANARY7q"
}

/// The OpenBao dev server scripts/test-env starts (KV v2 at secret/, TLS with its own CA, root token file).
extension Harness {
  static var openBaoPort: Int { port("BAO") }
  static var openBaoCA: String { environment["MAILCRED_TEST_BAO_CA"] ?? "" }
  static var openBaoRootTokenFile: String { environment["MAILCRED_TEST_BAO_TOKEN_FILE"] ?? "" }
  static var openBaoBinary: String { environment["MAILCRED_TEST_BAO_BIN"] ?? "" }

  /// A store URL with its own prefix, so that tests never see each other's accounts.
  static func openBaoStore(prefix: String = "contract") -> String {
    "openbao+https://127.0.0.1:\(openBaoPort)/secret/\(prefix)"
  }

  static func openBaoSettings(prefix: String = "contract") -> OpenBaoSettings {
    var settings = try! OpenBaoSettings(url: openBaoStore(prefix: prefix))
    settings.caFile = openBaoCA
    settings.tokenFile = openBaoRootTokenFile
    return settings
  }

  static var rootToken: String {
    (try? String(contentsOfFile: openBaoRootTokenFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
  }

  /// Runs the `bao` CLI against the test server as root (or with `token`).
  @discardableResult
  static func bao(_ arguments: [String], token: String? = nil, stdin: String? = nil) throws -> Output {
    try run(
      openBaoBinary, arguments, stdin: stdin,
      environment: [
        "BAO_ADDR": "https://127.0.0.1:\(openBaoPort)", "BAO_CACERT": openBaoCA, "BAO_TOKEN": token ?? rootToken,
      ])
  }
}

import Foundation
import Testing

/// A git forge on loopback for one test: scripts/harness/git-http.py serving bare repositories over HTTPS
/// (the harness certificate) with Basic auth, through the real `git http-backend`. Its users' passwords go
/// in on its stdin, never in a file or argv.
final class GitForge {
  let root: String
  let log: String
  let port: Int
  private let process = Process()
  private let users = Pipe()
  private let replies = Pipe()

  init(_ ws: ClientWorkspace) throws {
    root = ws.path + "/forge"
    log = ws.path + "/forge.log"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let dir = try #require(Harness.directory)
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [
      Harness.scripts + "/harness/git-http.py", "--port", "0", "--cert", dir + "/tls/server.pem",
      "--key", dir + "/tls/server.key", "--root", root, "--log", log,
    ]
    process.environment = Harness.environment.filter { $0.key != "MAILCRED_TEST_CANARY" }
    process.standardInput = users
    process.standardOutput = replies
    try process.run()
    let ready = try Self.readLine(replies.fileHandleForReading)
    guard ready.hasPrefix("ready "), let port = Int(ready.dropFirst(6)) else {
      throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "git-http.py said \(ready)"])
    }
    self.port = port
  }

  deinit {
    try? users.fileHandleForWriting.close()  // stdin ends: the server stops
    let deadline = Date().addingTimeInterval(5)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
    if process.isRunning { process.terminate() }
  }

  private static func readLine(_ handle: FileHandle) throws -> String {
    var line: [UInt8] = []
    while true {
      let byte = handle.readData(ofLength: 1)
      guard let first = byte.first else { throw CocoaError(.fileReadUnknown) }
      if first == 0x0a { return String(decoding: line, as: UTF8.self) }
      line.append(first)
    }
  }

  /// Adds the user or changes their password; in effect when this returns.
  func setPassword(_ user: String, _ password: String) throws {
    users.fileHandleForWriting.write(Data("\(user) \(password)\n".utf8))
    #expect(try Self.readLine(replies.fileHandleForReading) == "ok")
  }

  var url: String { "https://127.0.0.1:\(port)" }

  /// A bare repository NAME.git holding one commit on `main`, pushable over HTTP.
  func repository(_ name: String, _ ws: ClientWorkspace) throws {
    let bare = root + "/\(name).git"
    let seed = ws.path + "/seed-\(name)"
    try FileManager.default.createDirectory(atPath: seed, withIntermediateDirectories: true)
    try "hello from \(name)\n".write(toFile: seed + "/README", atomically: true, encoding: .utf8)
    for arguments in [
      ["init", "-q", "--bare", "-b", "main", bare], ["-C", bare, "config", "http.receivepack", "true"],
      ["-C", seed, "init", "-q", "-b", "main"], ["-C", seed, "add", "README"], ["-C", seed, "commit", "-q", "-m", "first"],
      ["-C", seed, "push", "-q", bare, "main"],
    ] {
      let result = try ws.run("/usr/bin/git", arguments)
      #expect(result.status == 0, "git \(arguments): \(result.stderr)")
    }
  }

  /// The server's log since the start: `METHOD PATH STATUS (USER)` lines.
  var requests: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
}

extension RealKeyringTests {
  /// The real git 2.39 cloning and pushing over HTTPS with mailcred as its only credential helper: the first
  /// clone asks (an askpass answers) and git stores through mailcred; later clones and pushes ask nothing; a
  /// password changed on the server makes git erase the stored one and ask again; two users on one host;
  /// `credential.useHttpPath`.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring, harness CA)"))
  struct GitHTTPTests {
    let ws: ClientWorkspace
    let forge: GitForge
    let canary = Harness.canary

    init() throws {
      ws = try ClientWorkspace("git-http")
      forge = try GitForge(ws)
      // The askpass says what it was asked (to `asked`) and answers from two files of the test; the password
      // file (mode 600) is deleted as soon as the clone that needed it is done, so no secret stays behind.
      let askpass = try ws.write("askpass", """
        #!/bin/sh
        printf '%s\\n' "$1" >>"\(ws.path)/asked"
        case "$1" in
          Username*) cat "\(ws.path)/answer-user" ;;
          *) cat "\(ws.path)/answer-password" ;;
        esac

        """)
      try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: askpass)
      try ws.write(".gitconfig", "[credential]\n\thelper = mailcred\n[user]\n\tname = Mail Cred\n\temail = author@example.test\n")
    }

    /// Runs git as a user would, with the askpass and the harness CA.
    func git(_ arguments: [String], in directory: String? = nil) throws -> Harness.Output {
      var environment = ws.environment
      environment["GIT_ASKPASS"] = ws.path + "/askpass"
      environment["GIT_SSL_CAINFO"] = Harness.caFile
      let cd = directory.map { ["-C", $0] } ?? []
      let result = try Harness.run("/usr/bin/setsid", ["-w", "/usr/bin/git"] + cd + arguments, environment: environment)
      expectNoLeak(result, "git \(arguments.first ?? "")")
      return result
    }

    /// Clones with the askpass ready to answer USER and PASSWORD; returns the result and what git asked.
    func clone(_ url: String, _ name: String, answering user: String? = nil, _ password: String? = nil) throws -> (Harness.Output, [String]) {
      if let user { try ws.write("answer-user", user + "\n") }
      if let password { try ws.write("answer-password", password + "\n") }
      defer { try? FileManager.default.removeItem(atPath: ws.path + "/answer-password") }
      try? FileManager.default.removeItem(atPath: ws.path + "/asked")
      let result = try git(["clone", "-q", url, ws.path + "/" + name])
      let asked = ((try? String(contentsOfFile: ws.path + "/asked", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
      return (result, asked)
    }

    func stored(_ user: String, path: String? = nil) throws -> String? {
      let request = "protocol=https\nhost=127.0.0.1:\(forge.port)\n" + (path.map { "path=\($0)\n" } ?? "") + "username=\(user)\n\n"
      let got = try Harness.run(ws.path + "/bin/git-credential-mailcred", ["get"], stdin: request, environment: ws.environment)
      #expect(got.stderr.isEmpty)
      return got.stdout.split(separator: "\n").first { $0.hasPrefix("password=") }.map { String($0.dropFirst(9)) }
    }

    func cleanUp() {
      _ = try? Harness.run(ws.path + "/bin/git-credential-mailcred", ["erase"], stdin: "protocol=https\nhost=127.0.0.1:\(forge.port)\n\n", environment: ws.environment)
    }

    @Test func theFirstCloneAsksAndGitStoresThroughMailcredThenClonesAndPushesAskNothing() throws {
      defer { cleanUp() }
      let password = "forge-\(canary)"
      try forge.setPassword("alice", password)
      try forge.repository("project", ws)

      let (first, asked) = try clone("\(forge.url)/project.git", "first", answering: "alice", password)
      #expect(first.status == 0, "clone: \(first.stderr)")
      #expect(asked == ["Username for '\(forge.url)': ", "Password for 'https://alice@127.0.0.1:\(forge.port)': "])
      #expect(first.stderr.isEmpty, "the helper said something during git clone: \(first.stderr)")
      #expect(try stored("alice") == password)
      let listed = try ws.mailcred(["list"]).stdout
      #expect(listed.contains("alice@127.0.0.1:\(forge.port)") && listed.contains(" git "), "\(listed)")

      let (second, askedAgain) = try clone("\(forge.url)/project.git", "second")
      #expect(second.status == 0, "clone: \(second.stderr)")
      #expect(askedAgain.isEmpty, "the second clone asked: \(askedAgain)")

      try "more\n".write(toFile: ws.path + "/second/README", atomically: true, encoding: .utf8)
      #expect(try git(["commit", "-q", "-am", "second"], in: ws.path + "/second").status == 0)
      try? FileManager.default.removeItem(atPath: ws.path + "/asked")
      let pushed = try git(["push", "-q", "origin", "main"], in: ws.path + "/second")
      #expect(pushed.status == 0, "push: \(pushed.stderr)")
      #expect(pushed.stderr.isEmpty, "\(pushed.stderr)")
      #expect(!FileManager.default.fileExists(atPath: ws.path + "/asked"), "the push asked")
      #expect(forge.requests.contains("POST /project.git/git-receive-pack 200 (alice)"), "\(forge.requests)")
    }

    @Test func aPasswordChangedOnTheServerMakesGitEraseTheStoredOneAndAskAgain() throws {
      defer { cleanUp() }
      try forge.setPassword("bob", "old-\(canary)")
      try forge.repository("moved", ws)
      let (first, _) = try clone("\(forge.url)/moved.git", "first", answering: "bob", "old-\(canary)")
      #expect(first.status == 0, "clone: \(first.stderr)")
      #expect(try stored("bob") == "old-\(canary)")

      try forge.setPassword("bob", "new-\(canary)")
      let (refused, asked) = try clone("\(forge.url)/moved.git", "refused")
      #expect(refused.status != 0)
      #expect(refused.stderr.contains("Authentication failed"), "\(refused.stderr)")
      #expect(!refused.stderr.contains("mailcred"), "the helper's erase is quiet")
      #expect(asked.isEmpty, "git 2.39 fails this clone with the stored password, then erases it")
      #expect(try stored("bob") == nil, "git's erase reached mailcred")
      #expect(!(try ws.mailcred(["list"]).stdout.contains("bob@127.0.0.1:\(forge.port)")), "an erased git credential is gone at once")

      let (again, askedAgain) = try clone("\(forge.url)/moved.git", "again", answering: "bob", "new-\(canary)")
      #expect(again.status == 0, "clone: \(again.stderr)")
      #expect(askedAgain.count == 2, "\(askedAgain)")
      #expect(try stored("bob") == "new-\(canary)")
    }

    @Test func twoUsersOnOneHostEachKeepTheirOwnPassword() throws {
      defer { cleanUp() }
      try forge.setPassword("carol", "carol-\(canary)")
      try forge.setPassword("dave", "dave-\(canary)")
      try forge.repository("shared", ws)
      for user in ["carol", "dave"] {
        let (result, asked) = try clone("https://\(user)@127.0.0.1:\(forge.port)/shared.git", "\(user)-1", answering: user, "\(user)-\(canary)")
        #expect(result.status == 0, "clone as \(user): \(result.stderr)")
        #expect(asked == ["Password for 'https://\(user)@127.0.0.1:\(forge.port)': "])
      }
      for user in ["carol", "dave"] {
        let (result, asked) = try clone("https://\(user)@127.0.0.1:\(forge.port)/shared.git", "\(user)-2")
        #expect(result.status == 0, "clone as \(user): \(result.stderr)")
        #expect(asked.isEmpty, "asked again for \(user): \(asked)")
        #expect(try stored(user) == "\(user)-\(canary)")
      }
      #expect(forge.requests.contains("(carol)") && forge.requests.contains("(dave)"))
    }

    @Test func withUseHttpPathEachRepositoryHasItsOwnCredential() throws {
      defer { cleanUp() }
      try ws.write(".gitconfig", "[credential]\n\thelper = mailcred\n\tuseHttpPath = true\n")
      try forge.setPassword("erin", "erin-\(canary)")
      try forge.repository("one", ws)
      try forge.repository("two", ws)
      let (one, askedOne) = try clone("\(forge.url)/one.git", "one", answering: "erin", "erin-\(canary)")
      #expect(one.status == 0 && askedOne.count == 2, "\(one.stderr) \(askedOne)")
      // Same host and user, another path: git asks for it, and the first credential does not answer.
      let (two, askedTwo) = try clone("\(forge.url)/two.git", "two", answering: "erin", "erin-\(canary)")
      #expect(two.status == 0, "\(two.stderr)")
      #expect(askedTwo == ["Username for '\(forge.url)/two.git': ", "Password for 'https://erin@127.0.0.1:\(forge.port)/two.git': "])
      #expect(try stored("erin", path: "one.git") == "erin-\(canary)")
      #expect(try stored("erin", path: "two.git") == "erin-\(canary)")
      let json = try ws.mailcred(["list", "--json"]).stdout
      #expect(json.contains("\"path\" : \"one.git\"") && json.contains("\"path\" : \"two.git\""), "\(json)")
      let (again, askedAgain) = try clone("\(forge.url)/one.git", "one-again")
      #expect(again.status == 0 && askedAgain.isEmpty, "\(again.stderr) \(askedAgain)")
    }
  }
}

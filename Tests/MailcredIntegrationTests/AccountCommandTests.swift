import Foundation
import Testing

/// End-to-end: the built `mailcred` binary against the real gnome-keyring on the harness's private bus.
extension RealKeyringTests {
@Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
struct AccountCommandTests {
  func add(_ account: String, secret: String, extra: [String] = []) throws -> Harness.Output {
    try Harness.mailcred(
      ["add", account, "--user", "me@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"] + extra,
      stdin: secret + "\n")
  }

  enum Sample: String, CaseIterable {
    case ascii, utf8, oneKiB, innerSpaces
    var secret: String {
      switch self {
      case .ascii: return "ascii-secret-\(Harness.canary)"
      case .utf8: return "ünïcødé ☃ \(Harness.canary)"
      case .oneKiB: return String(repeating: "K", count: 1024 - Harness.canary.utf8.count) + Harness.canary
      case .innerSpaces: return "inner spaces stay \(Harness.canary)"
      }
    }
  }

  @Test(arguments: Sample.allCases)
  func addThenGetReturnsTheExactBytes(sample: Sample) throws {
    let secret = sample.secret
    let account = Harness.uniqueName("exact")
    let added = try add(account, secret: secret)
    #expect(added.status == 0, "\(added.stderr)")
    #expect(added.stdout.isEmpty)
    #expect(!added.stderr.contains(Harness.canary))
    let got = try Harness.mailcred(["get", account])
    #expect(got.status == 0)
    #expect(got.stdoutBytes == Array(secret.utf8) + [0x0a])
    #expect(got.stderr.isEmpty)
    for command in [["list"], ["list", "--json"], ["show", account], ["show", account, "--json"]] {
      let shown = try Harness.mailcred(command)
      #expect(shown.status == 0)
      #expect(shown.stdout.contains(account))
      #expect(!shown.stdout.contains(Harness.canary) && !shown.stderr.contains(Harness.canary), "\(command) leaked the secret")
    }
    let removed = try Harness.mailcred(["remove", account, "--yes"])
    #expect(removed.status == 0)
    #expect(try Harness.mailcred(["get", account]).status == 67)
  }

  @Test func groupedAppPasswordLosesItsSpacesAndTheUserIsTold() throws {
    let account = Harness.uniqueName("grouped")
    let added = try add(account, secret: "abcd efgh ijkl mnop")
    #expect(added.status == 0)
    #expect(added.stderr.contains("removed the spaces"))
    #expect(try Harness.mailcred(["get", account]).stdout == "abcdefghijklmnop\n")
    try Harness.mailcred(["remove", account, "--yes"])
  }

  @Test func duplicateAddIsRefusedWith65AndTheOldSecretStays() throws {
    let account = Harness.uniqueName("dup")
    #expect(try add(account, secret: "first-\(Harness.canary)").status == 0)
    let again = try add(account, secret: "second-\(Harness.canary)")
    #expect(again.status == 65)
    #expect(again.stderr.contains("already exists"))
    #expect(try Harness.mailcred(["get", account]).stdout == "first-\(Harness.canary)\n")
    #expect(try add(account, secret: "second-\(Harness.canary)", extra: ["--replace"]).status == 0)
    #expect(try Harness.mailcred(["get", account]).stdout == "second-\(Harness.canary)\n")
    let json = try Harness.mailcred(["list", "--json"]).stdout
    #expect(json.components(separatedBy: "\"\(account)\"").count == 2, "exactly one item after --replace")
    try Harness.mailcred(["remove", account, "--yes"])
  }

  @Test(arguments: [" leading-space", "trailing-space ", ""])
  func whitespaceAndEmptySecretsAreRefusedAndNothingIsStored(secret: String) throws {
    let account = Harness.uniqueName("ws")
    let result = try add(account, secret: secret)
    #expect(result.status == 65)
    #expect(result.stderr.split(separator: "\n").count == 1)
    #expect(try Harness.mailcred(["get", account]).status == 67)
  }

  @Test(arguments: [["--expires", "2026-13-45"], ["--expires-in", "ninety"], ["--created", "yesterday"], ["--expires", "2000-01-01"]])
  func badDatesAreRefusedAndNothingIsStored(options: [String]) throws {
    let account = Harness.uniqueName("date")
    let result = try add(account, secret: "pw-\(Harness.canary)", extra: options)
    #expect(result.status == 65 || result.status == 64)
    #expect(result.stderr.hasPrefix("mailcred: ") || result.stderr.hasPrefix("Error: "))
    #expect(try Harness.mailcred(["get", account]).status == 67)
  }

  @Test func expiryIsStoredAndShown() throws {
    let account = Harness.uniqueName("expiry")
    #expect(try add(account, secret: "pw-\(Harness.canary)", extra: ["--expires-in", "10d"]).status == 0)
    let show = try Harness.mailcred(["show", account, "--json"])
    let report = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
    #expect(report?["status"] as? String == "expiring")
    #expect(report?["days_left"] as? Int == 10)
    #expect(try Harness.mailcred(["list"]).stdout.contains("expires in 10 days"))
    let expiredAccount = Harness.uniqueName("expired")
    #expect(try add(expiredAccount, secret: "pw-\(Harness.canary)", extra: ["--created", "2026-01-01", "--expires", "2026-02-01"]).status == 0)
    #expect(try Harness.mailcred(["show", expiredAccount]).stdout.contains("expired"))
    try Harness.mailcred(["remove", account, "--yes"])
    try Harness.mailcred(["remove", expiredAccount, "--yes"])
  }

  @Test func unknownAccountIs67WithNothingOnStdout() throws {
    let result = try Harness.mailcred(["get", "no-such-account-here"])
    #expect(result.status == 67)
    #expect(result.stdout.isEmpty)
    #expect(result.stderr.contains("no such account"))
    #expect(try Harness.mailcred(["show", "no-such-account-here"]).status == 67)
    #expect(try Harness.mailcred(["remove", "no-such-account-here", "--yes"]).status == 67)
  }

  @Test func removeWithoutATerminalNeedsYes() throws {
    let account = Harness.uniqueName("rm")
    #expect(try add(account, secret: "pw-\(Harness.canary)").status == 0)
    let refused = try Harness.mailcred(["remove", account])
    #expect(refused.status == 64)
    #expect(try Harness.mailcred(["get", account]).status == 0)
    #expect(try Harness.mailcred(["remove", account, "--yes"]).status == 0)
  }

  @Test func lockedCollectionIs69AndSaysLocked() throws {
    let account = Harness.uniqueName("locked")
    #expect(try add(account, secret: "pw-\(Harness.canary)").status == 0)
    try Harness.lockKeyring()
    defer { try? Harness.unlockKeyring() }
    let got = try Harness.mailcred(["get", account], deadline: 10)
    #expect(got.status == 69)
    #expect(got.stdout.isEmpty)
    #expect(got.stderr.contains("locked"))
    #expect(!got.stderr.contains("no such account"))
    let added = try add(Harness.uniqueName("locked-add"), secret: "pw-\(Harness.canary)")
    #expect(added.status == 69)
    try Harness.unlockKeyring()
    #expect(try Harness.mailcred(["get", account]).status == 0)
    try Harness.mailcred(["remove", account, "--yes"])
  }

  @Test(arguments: ["unix:path=/nonexistent/bus", ""])
  func noSecretServiceIs69WithinTwoSeconds(bus: String) throws {
    let result = try Harness.mailcred(["get", "anything"], environment: ["DBUS_SESSION_BUS_ADDRESS": bus.isEmpty ? nil : bus, "DISPLAY": nil], deadline: 10)
    #expect(result.status == 69)
    #expect(result.seconds < 2)
    #expect(result.stderr.contains("no Secret Service"))
    #expect(result.stdout.isEmpty)
  }

  @Test func aBusWithoutAKeyringIs69WithinTwoSeconds() throws {
    // A second private bus that has no Secret Service and no activatable services.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(Harness.uniqueName("bus")).path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let config = """
      <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
       "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
      <busconfig><type>session</type><listen>unix:path=\(dir)/bus</listen>
      <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
      </busconfig>
      """
    try config.write(toFile: dir + "/bus.conf", atomically: true, encoding: .utf8)
    // Foundation's Process learns of a child's exit when a socket it shares with the child closes: a
    // daemon that inherits it would hang the test. Python's subprocess closes every other descriptor.
    let launch = "import subprocess; subprocess.run(['dbus-daemon', '--config-file=\(dir)/bus.conf', '--fork', '--print-pid=1'], stdout=open('\(dir)/pid', 'w'), stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=True)"
    let daemon = try Harness.run("/usr/bin/python3", ["-c", launch])
    #expect(daemon.status == 0)
    defer {
      if let text = try? String(contentsOfFile: dir + "/pid", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
        // SIGKILL: a process started from the test runner's threads inherits their blocked signals,
        // SIGTERM among them, so SIGTERM would stay pending forever.
        kill(pid, SIGKILL)
      }
    }
    let result = try Harness.mailcred(["get", "anything"], environment: ["DBUS_SESSION_BUS_ADDRESS": "unix:path=\(dir)/bus"], deadline: 10)
    #expect(result.status == 69)
    #expect(result.seconds < 2)
    #expect(result.stderr.contains("no Secret Service"))
    #expect(result.stderr.split(separator: "\n").count == 1)
  }

  @Test func secretToolSeesTheItemWithMsmtpsAttributes() throws {
    let account = Harness.uniqueName("schema")
    #expect(try add(account, secret: "pw-\(Harness.canary)").status == 0)
    let search = try Harness.run("/usr/bin/secret-tool", ["search", "account", account])
    #expect(search.status == 0)
    #expect(search.stdout.contains("schema = org.mailcred.Credential") || search.stderr.contains("schema = org.mailcred.Credential"))
    let all = search.stdout + search.stderr
    #expect(all.contains("attribute.host = 127.0.0.1"))
    #expect(all.contains("attribute.service = smtp"))
    #expect(all.contains("attribute.user = me@example.test"))
    // msmtp's own lookup attributes find the secret with no schema name.
    let lookup = try Harness.run("/usr/bin/secret-tool", ["lookup", "host", "127.0.0.1", "service", "smtp", "user", "me@example.test"])
    #expect(lookup.stdout == "pw-\(Harness.canary)")
    try Harness.mailcred(["remove", account, "--yes"])
  }

  @Test func providersAndOutlookWarning() throws {
    let list = try Harness.mailcred(["providers"])
    for id in ["outlook.com", "office365", "gmail", "yahoo", "icloud", "fastmail", "zoho", "gmx", "proton-bridge"] {
      #expect(list.stdout.contains(id))
    }
    let account = Harness.uniqueName("outlook")
    let added = try Harness.mailcred(
      ["add", account, "--user", "me@outlook.com", "--provider", "outlook.com", "--password-stdin", "--no-check"],
      stdin: "pw-\(Harness.canary)\n")
    #expect(added.status == 0)
    #expect(added.stderr.contains("16 Sept 2024"))
    let show = try Harness.mailcred(["show", account])
    #expect(show.stdout.contains("smtp-mail.outlook.com:587 starttls"))
    #expect(show.stdout.contains("app-password"))
    try Harness.mailcred(["remove", account, "--yes"])
  }

  @Test(arguments: [
    ["add", "", "--user", "u", "--smtp", "h"], ["add", "a/b", "--user", "u", "--smtp", "h"],
    ["add", "ok", "--user", "u", "--smtp", "h:70000"], ["add", "ok", "--user", "u", "--smtp", "h:0"],
    ["add", "ok", "--user", "u", "--smtp", "h:abc"], ["add", "ok", "--user", "u"],
    ["add", "ok", "--user", "u", "--provider", "nope"], ["add", "ok", "--user", "u", "--smtp", "bad host"],
    ["add", "ok", "--user", "u", "--smtp", "example.com", "--smtp-security", "plain"],
  ])
  func badInputIsOneLineAndNothingIsStored(arguments: [String]) throws {
    let result = try Harness.mailcred(arguments + ["--password-stdin", "--no-check"], stdin: "pw-\(Harness.canary)\n")
    #expect(result.status == 64 || result.status == 65, "\(arguments): \(result.status) \(result.stderr)")
    #expect(!result.stderr.contains(Harness.canary))
    #expect(try Harness.mailcred(["get", "ok"]).status == 67)
  }
}
}

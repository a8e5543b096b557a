import Foundation
import Testing

extension RealKeyringTests {
  /// Every command against a real KeePassXC 2.7.4 (FdoSecrets, headless) on a bus of its own: what
  /// KeePassXC does differently from gnome-keyring (a prompt for every CreateItem and Delete, extra
  /// attributes, attribute writes that merge, a locked database that hides its items) must not show.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyrings)"))
  struct KeePassXCTests {
    var env: [String: String?] { Harness.keepassxcEnvironment }
    var live: [String] { ["--ca-file", Harness.caFile, "--timeout", "10"] }

    func mailcred(_ arguments: [String], stdin: String? = nil, extra: [String: String?] = [:]) throws -> Harness.Output {
      try Harness.mailcred(arguments, stdin: stdin, environment: env.merging(extra) { _, new in new }, deadline: 30)
    }

    @Test func everyCommandWorksOnKeePassXC() throws {
      let account = Harness.uniqueName("kpxc")
      let user = "\(account)@example.test"
      let first = "first-\(Harness.canary)"
      let second = "second-\(Harness.canary)"
      try Harness.setPassword(user: user, password: first)
      let endpoint = ["--smtp", "127.0.0.1:\(Harness.submissionPort)", "--imap", "127.0.0.1:\(Harness.imapsPort)", "--imap-security", "tls"]

      // add (live AUTH first), get, list, show
      let added = try mailcred(["add", account, "--user", user, "--password-stdin", "--expires-in", "90d"] + endpoint + live, stdin: first + "\n")
      #expect(added.status == 0, "\(added.stderr)")
      #expect(try mailcred(["get", account]).stdout == first + "\n")
      #expect(try mailcred(["list"]).stdout.contains(account))
      let shown = try mailcred(["show", account, "--json"])
      #expect(shown.status == 0 && shown.stdout.contains("\"state\" : \"current\"") || shown.stdout.contains("\"state\":\"current\""), "\(shown.stdout)")
      // KeePassXC's own attributes (Title, UserName, ...) are not mailcred's: none shows up.
      #expect(!shown.stdout.contains("Uuid") && !shown.stdout.contains("Title"))

      // check and audit record results on the item (an attribute write KeePassXC merges)
      let checked = try mailcred(["check", account] + live)
      #expect(checked.status == 0, "\(checked.stdout) \(checked.stderr)")
      let audited = try mailcred(["audit", "--json"] + live)
      #expect(audited.stdout.contains(account))

      // add --replace twice within one second: no CreateItem(replace=true), so no 2.7.4 access dialog
      for secret in [second, first] {
        let replaced = try mailcred(["add", account, "--user", user, "--password-stdin", "--no-check", "--replace"] + endpoint, stdin: secret + "\n")
        #expect(replaced.status == 0, "\(replaced.stderr)")
      }
      #expect(try mailcred(["get", account]).stdout == first + "\n")
      #expect(try states(account) == ["current"])

      // rotate to a new secret, verified live
      try Harness.setPassword(user: user, password: second)
      let rotated = try mailcred(["rotate", account, "--password-stdin"] + live, stdin: second + "\n")
      #expect(rotated.status == 0, "\(rotated.stderr)")
      #expect(try mailcred(["get", account]).stdout == second + "\n")
      #expect(try states(account) == ["current"])

      // the git helper: get, erase (kept recoverable), restore, store
      let request = "protocol=smtp\nhost=127.0.0.1:\(Harness.submissionPort)\nusername=\(user)\n\n"
      let helped = try mailcred(["credential-helper", "get"], stdin: request)
      #expect(helped.stdout.contains("password=\(second)"), "the helper answered something else")
      #expect(try mailcred(["credential-helper", "erase"], stdin: request).status == 0)
      #expect(try mailcred(["get", account]).status == 67)
      #expect(try mailcred(["restore", account]).status == 0)
      #expect(try mailcred(["get", account]).stdout == second + "\n")

      // remove: KeePassXC answers Item.Delete with a prompt, which is run, not read as "locked"
      let removed = try mailcred(["remove", account, "--yes"])
      #expect(removed.status == 0, "\(removed.stderr)")
      #expect(try mailcred(["get", account]).status == 67)
      #expect(try mailcred(["show", account]).status == 67)
    }

    func states(_ account: String) throws -> [String] {
      let json = try mailcred(["list", "--json"]).stdout
      let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
      return rows.filter { $0["account"] as? String == account }.compactMap { $0["state"] as? String }
    }

    @Test func aLockedDatabaseIsLockedForEveryCommandNeverMissingOrEmpty() throws {
      let account = Harness.uniqueName("kpxc-locked")
      #expect(try mailcred(["add", account, "--user", "l@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], stdin: "kept-\(Harness.canary)\n").status == 0)
      try Harness.keepassxc("lock")
      defer { try? Harness.keepassxc("unlock") }
      let commands: [([String], String?)] = [
        (["get", account], nil), (["get", "never-stored-\(account)"], nil), (["list"], nil), (["list", "--json"], nil),
        (["show", account], nil), (["remove", account, "--yes"], nil), (["audit", "--offline"], nil),
        (["add", account + "-new", "--user", "l@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], "x-\(Harness.canary)\n"),
        (["credential-helper", "get"], "protocol=smtp\nhost=127.0.0.1:2525\nusername=l@example.test\n\n"),
      ]
      for (arguments, input) in commands {
        let result = try mailcred(arguments, stdin: input)
        #expect(result.status == 69, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("locked"), "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty, "\(arguments): \(result.stdout)")
        #expect(result.seconds < 2, "\(arguments): \(result.seconds) s")
      }
      try Harness.keepassxc("unlock")
      #expect(try mailcred(["get", account]).stdout == "kept-\(Harness.canary)\n")
      #expect(try mailcred(["get", account + "-new"]).status == 67)
      #expect(try mailcred(["remove", account, "--yes"]).status == 0)
    }

    @Test func aLockedDatabaseUnlocksThroughKeePassXCsOwnDialog() throws {
      // A KeePassXC of its own, with its windows on an Xvfb display: the unlock dialog is real, and the
      // test types the database password into it (xdotool) while `mailcred get` waits.
      let directory = try #require(Harness.directory) + "/kpxc-dialog-\(UInt32.random(in: 0...UInt32.max))"
      let started = try Harness.run(Harness.scripts + "/harness/keepassxc", ["start", directory, "--display", "auto"], deadline: 40)
      try #require(started.status == 0, "\(started.stderr)")
      defer { _ = try? Harness.run(Harness.scripts + "/harness/keepassxc", ["stop", directory]) }
      let own: [String: String?] = ["DBUS_SESSION_BUS_ADDRESS": "unix:path=\(directory)/bus", "DISPLAY": ":0", "MAILCRED_UNLOCK_TIMEOUT": "20"]
      let account = Harness.uniqueName("kpxc-dialog")
      #expect(try Harness.mailcred(["add", account, "--user", "d@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], stdin: "dialog-\(Harness.canary)\n", environment: own).status == 0)
      try Harness.keepassxc("lock", directory: directory)

      let answered = ResultBox(1)
      let group = DispatchGroup()
      group.enter()
      DispatchQueue.global().async {
        answered.set(0, try? Harness.run(Harness.scripts + "/harness/keepassxc", ["answer", directory], deadline: 30))
        group.leave()
      }
      let got = try Harness.mailcred(["get", account], environment: own, deadline: 40)
      group.wait()
      #expect(answered.values[0]?.status == 0, "\(answered.values[0]?.stderr ?? "")")
      #expect(got.status == 0, "\(got.stderr)")
      #expect(got.stdout == "dialog-\(Harness.canary)\n")
    }
  }
}

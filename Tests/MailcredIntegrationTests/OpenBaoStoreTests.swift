import Foundation
import Testing

extension RealKeyringTests {
  /// Every command on the OpenBao store, end to end: the built binary with MAILCRED_STORE (or the config
  /// file) naming the dev server scripts/test-env starts, Dovecot for the live checks. Serialized with the
  /// contract suite (one test seals the server).
  @Suite(.enabled(if: Harness.available, "needs scripts/test (OpenBao and mail servers)"))
  struct OpenBaoStoreTests {
    /// A prefix per test: no test sees another's accounts.
    let prefix = Harness.uniqueName("e2e")

    var store: String { Harness.openBaoStore(prefix: prefix) }
    var admin: [String: String?] {
      ["MAILCRED_STORE": store, "BAO_CACERT": Harness.openBaoCA, "BAO_TOKEN": Harness.rootToken]
    }
    var live: [String] { ["--ca-file", Harness.caFile, "--timeout", "10"] }

    func mailcred(_ arguments: [String], stdin: String? = nil, as environment: [String: String?]? = nil) throws -> Harness.Output {
      try Harness.mailcred(arguments, stdin: stdin, environment: environment ?? admin)
    }

    func setPassword(_ user: String, _ password: String, second: Bool = false) throws {
      let result = try Harness.run(
        Harness.scripts + "/harness/set-password", (second ? ["--second"] : []) + [try #require(Harness.directory), user],
        stdin: password + "\n")
      try #require(result.status == 0, "set-password: \(result.stderr)")
    }

    func add(_ account: String, user: String, secret: String, check: Bool = true) throws {
      let added = try mailcred(
        ["add", account, "--user", user, "--smtp", "127.0.0.1:\(Harness.submissionPort)", "--password-stdin"] + live
          + (check ? [] : ["--no-check"]), stdin: secret + "\n")
      try #require(added.status == 0, "add \(account): \(added.stderr)")
    }

    /// The states of an account's live items as the root token sees them in OpenBao itself (soft-deleted
    /// ones, kept for `restore`, only with `deleted: true`).
    func storedStates(_ account: String, deleted: Bool = false) throws -> [String] {
      let listed = try Harness.bao(["kv", "list", "-format=json", "secret/\(prefix)/\(account)"])
      guard listed.status == 0 else { return [] }
      let keys = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String])
      return try keys.filter { !$0.hasPrefix(".") }.map { key -> String? in
        let meta = try Harness.bao(["kv", "metadata", "get", "-format=json", "secret/\(prefix)/\(account)/\(key)"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(meta.stdout.utf8)) as? [String: Any])
        let data = object["data"] as? [String: Any]
        let custom = data?["custom_metadata"] as? [String: String]
        let current = (data?["current_version"] as? Int).map(String.init) ?? "1"
        let version = (data?["versions"] as? [String: Any])?[current] as? [String: Any]
        let isDeleted = !((version?["deletion_time"] as? String) ?? "").isEmpty
        return isDeleted == deleted ? custom?["state"] ?? "?" : nil
      }.compactMap { $0 }.sorted()
    }

    @Test func everyCommandWorksOnOpenBaoAgainstDovecot() throws {
      let user = Harness.uniqueName("bao") + "@example.test"
      let old = "old-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      let new = "new-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      try setPassword(user, old)
      try setPassword(user, new, second: true)

      try add("relay", user: user, secret: old)
      #expect(try mailcred(["get", "relay"]).stdout == old + "\n")
      let listed = try mailcred(["list"])
      #expect(listed.status == 0 && listed.stdout.contains("relay") && listed.stdout.contains(user))
      let shown = try mailcred(["show", "relay", "--json"])
      #expect(shown.status == 0 && shown.stdout.contains(#""account" : "relay""#) || shown.stdout.contains(#""account":"relay""#))
      #expect(try mailcred(["check", "relay"] + live).status == 0)

      // The secret is data, the attributes are metadata: a metadata read never carries the secret.
      let meta = try Harness.bao(["kv", "metadata", "get", "-format=json", "secret/\(prefix)/relay"])
      #expect(!meta.stdout.contains(Harness.canary))

      let rotated = try mailcred(["rotate", "relay", "--password-stdin"] + live, stdin: new + "\n")
      #expect(rotated.status == 0, "rotate: \(rotated.stderr)")
      #expect(try mailcred(["get", "relay"]).stdout == new + "\n")
      #expect(try storedStates("relay") == ["current"])
      #expect(try mailcred(["audit", "--offline"]).status == 0)

      // The superseded secret stays in KV v2's history (soft-deleted), for `restore`.
      #expect(try storedStates("relay", deleted: true) == ["current"])

      #expect(try mailcred(["remove", "relay", "--yes"]).status == 0)
      let gone = try mailcred(["get", "relay"])
      #expect(gone.status == 67 && gone.stdout.isEmpty)
      #expect(try storedStates("relay").isEmpty)

      // restore after remove: the secret remove took is current again.
      let back = try mailcred(["restore", "relay"])
      #expect(back.status == 0, "restore: \(back.stderr)")
      #expect(try mailcred(["get", "relay"]).stdout == new + "\n")
      // A bad `add --replace`, undone by restore --previous; a second --previous swaps back.
      let bad = "bad-\(Harness.canary)"
      try #require(try mailcred(
        ["add", "relay", "--replace", "--user", user, "--smtp", "127.0.0.1:\(Harness.submissionPort)", "--no-check", "--password-stdin"],
        stdin: bad + "\n").status == 0)
      #expect(try mailcred(["get", "relay"]).stdout == bad + "\n")
      #expect(try mailcred(["restore", "relay", "--previous"]).status == 0)
      #expect(try mailcred(["get", "relay"]).stdout == new + "\n")
      #expect(try storedStates("relay") == ["current"])
      #expect(try mailcred(["restore", "relay", "--previous"]).status == 0)
      #expect(try mailcred(["get", "relay"]).stdout == bad + "\n")
      // The history is bounded: at most 3 deleted items per account.
      #expect(try storedStates("relay", deleted: true).count <= 3)
      // Without history (the Secret Service) --previous is refused, nothing changes.
      let noHistory = try mailcred(["restore", "relay", "--previous"], as: ["MAILCRED_STORE": "secret-service"])
      #expect(noHistory.status == 64 && noHistory.stderr.contains("keeps no earlier secrets"), "\(noHistory.stderr)")
    }

    @Test func aReadOnlyTokenGetsItsOneAccountAndCannotWriteOrList() throws {
      try add("relay", user: "ro@example.test", secret: "ro-\(Harness.canary)", check: false)
      try add("other", user: "ro@example.test", secret: "other-\(Harness.canary)", check: false)
      let policy = """
        path "secret/data/\(prefix)/relay/*" { capabilities = ["read"] }
        path "secret/metadata/\(prefix)/relay/*" { capabilities = ["read", "list"] }
        """
      try #require(try Harness.bao(["policy", "write", prefix, "-"], stdin: policy).status == 0)
      let made = try Harness.bao(["token", "create", "-policy=\(prefix)", "-field=token"])
      try #require(made.status == 0, "token create: \(made.stderr)")
      let server: [String: String?] = ["MAILCRED_STORE": store, "BAO_CACERT": Harness.openBaoCA, "BAO_TOKEN": made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]
      let before = try storedStates("relay")

      #expect(try mailcred(["get", "relay"], as: server).stdout == "ro-\(Harness.canary)\n")
      // Not allowed to read another account: refused, never "no such account".
      let otherGet = try mailcred(["get", "other"], as: server)
      #expect(otherGet.status == 77 && otherGet.stderr.contains("permission denied"), "\(otherGet.stderr)")
      let added = try mailcred(["add", "relay2", "--user", "x@example.test", "--smtp", "127.0.0.1:1", "--no-check", "--password-stdin"], stdin: "x-\(Harness.canary)\n", as: server)
      #expect(added.status == 77 && added.stderr.contains("permission denied"), "\(added.stderr)")
      let rotated = try mailcred(["rotate", "relay", "--no-check", "--password-stdin"], stdin: "r-\(Harness.canary)\n", as: server)
      #expect(rotated.status == 77, "\(rotated.stderr)")
      let listed = try mailcred(["list"], as: server)
      #expect(listed.status == 77 && listed.stdout.isEmpty && listed.stderr.contains("permission denied to list"), "\(listed.stderr)")

      #expect(try storedStates("relay") == before)
      #expect(try storedStates("relay2").isEmpty)
      #expect(try mailcred(["get", "relay"]).stdout == "ro-\(Harness.canary)\n")
    }

    @Test func twoMachinesRotatingAtOnceLeaveExactlyOneCurrent() throws {
      try add("shared", user: "both@example.test", secret: "s0-\(Harness.canary)", check: false)
      // Two "machines": their own HOME, config file, token file and XDG_RUNTIME_DIR (so their flocks never
      // meet; only OpenBao's check-and-set lock record stands between them).
      let root = try #require(Harness.directory) + "/tmp/\(prefix)"
      var machines: [[String: String?]] = []
      for name in ["a", "b"] {
        let home = "\(root)/\(name)"
        for sub in ["", "/config/mailcred", "/runtime"] {
          try FileManager.default.createDirectory(atPath: home + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try #require(FileManager.default.createFile(atPath: "\(home)/token", contents: Data(Harness.rootToken.utf8), attributes: [.posixPermissions: 0o600]))
        try "store = \(store)\nca-file = \(Harness.openBaoCA)\ntoken-file = \(home)/token\n"
          .write(toFile: "\(home)/config/mailcred/config", atomically: true, encoding: .utf8)
        machines.append(["HOME": home, "XDG_CONFIG_HOME": "\(home)/config", "XDG_RUNTIME_DIR": "\(home)/runtime", "MAILCRED_STORE": nil, "BAO_TOKEN": nil])
      }
      for round in 0..<3 {
        let secrets = ["a\(round)-\(Harness.canary)", "b\(round)-\(Harness.canary)"]
        let environments = machines
        let lock = NSLock()
        nonisolated(unsafe) var outputs: [Int: Harness.Output] = [:]
        DispatchQueue.concurrentPerform(iterations: 2) { index in
          let output = try? Harness.mailcred(["rotate", "shared", "--no-check", "--password-stdin"], stdin: secrets[index] + "\n", environment: environments[index])
          lock.lock()
          outputs[index] = output
          lock.unlock()
        }
        // Exactly one wins or both do one after the other; a loser is told to try again (75) and changed
        // nothing. Never two current items, never a leftover pending one, never a lost secret.
        let statuses = [outputs[0]?.status, outputs[1]?.status]
        for output in [outputs[0], outputs[1]] {
          #expect(output?.status == 0 || output?.status == 75, "rotate: \(output?.stderr ?? "did not run")")
        }
        #expect(statuses.contains(0))
        #expect(try storedStates("shared") == ["current"], "round \(round)")
        let got = try mailcred(["get", "shared"], as: machines[0]).stdout
        let winners = secrets.indices.filter { statuses[$0] == 0 }.map { secrets[$0] + "\n" }
        #expect(winners.contains(got), "round \(round): the current secret is not one a successful rotation stored")
      }
      try? FileManager.default.removeItem(atPath: root)
    }

    /// The issue's story: one relay password on two servers. Each server logs in with its own AppRole
    /// (role-id and secret-id files, mode 600) whose policy reads the relay account only; msmtp takes the
    /// password with `passwordeval "mailcred get relay"`; an admin rotates once; both servers' next sends use
    /// the new secret (the old one no longer works on Dovecot).
    @Test func twoServersWithAppRoleSendThroughMsmtpAndFollowOneCentralRotation() throws {
      let user = Harness.uniqueName("relay") + "@example.test"
      let old = "old-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      let new = "new-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
      try setPassword(user, old)
      try setPassword(user, new, second: true)
      try add("relay", user: user, secret: old)

      let mount = "approle-\(prefix)"
      try #require(try Harness.bao(["auth", "enable", "-path=\(mount)", "approle"]).status == 0)
      let policy = """
        path "secret/data/\(prefix)/relay/*" { capabilities = ["read"] }
        path "secret/metadata/\(prefix)/relay/*" { capabilities = ["read", "list"] }
        """
      try #require(try Harness.bao(["policy", "write", "relay-reader-\(prefix)", "-"], stdin: policy).status == 0)

      var servers: [FleetServer] = []
      for name in ["web1", "web2"] {
        servers.append(try FleetServer(
          name, store: store, caFile: Harness.openBaoCA, approleMount: mount, policy: "relay-reader-\(prefix)", user: user,
          bao: { try Harness.bao($0) }))
      }

      for (index, server) in servers.enumerated() {
        #expect(try server.send("fleet-before-\(index)"))
        // The server's token reads; it cannot write.
        let refused = try server.mailcred(["rotate", "relay", "--no-check", "--password-stdin"], stdin: "x-\(Harness.canary)\n")
        #expect(refused.status == 77, "\(refused.stderr)")
        // Its AppRole token is cached (mode 600) for the next `get`.
        #expect(try server.cachedTokens() == [0o600])
      }

      let rotated = try mailcred(["rotate", "relay", "--password-stdin"] + live, stdin: new + "\n")
      try #require(rotated.status == 0, "rotate: \(rotated.stderr)")
      // The old secret is revoked at the provider: only the new one authenticates now.
      try setPassword(user, new)

      for (index, server) in servers.enumerated() {
        #expect(try server.send("fleet-after-\(index)"))
      }

      // A secret-id file others may read is refused with the fix.
      try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: servers[0].ws.path + "/etc/secret-id")
      // (The cached token would still answer: a new secret-id file is read at the next login.)
      try FileManager.default.removeItem(atPath: servers[0].ws.path + "/runtime/mailcred")
      let loose = try servers[0].mailcred(["get", "relay"])
      #expect(loose.status == 78 && loose.stdout.isEmpty && loose.stderr.contains("chmod 600"), "\(loose.stderr)")
    }

    @Test func sealedUnreachableAndRefusedAreErrorsWithTheirFixNeverMissing() throws {
      try add("sealme", user: "seal@example.test", secret: "seal-\(Harness.canary)", check: false)
      let log = try String(contentsOfFile: try #require(Harness.directory) + "/logs/openbao.log", encoding: .utf8)
      let key = try #require(log.split(separator: "\n").first { $0.hasPrefix("Unseal Key: ") }?.dropFirst("Unseal Key: ".count))
      try #require(try Harness.bao(["operator", "seal"]).status == 0)
      defer { _ = try? Harness.bao(["operator", "unseal", String(key)]) }
      let sealed = try mailcred(["get", "sealme"])
      #expect(sealed.status == 69 && sealed.stdout.isEmpty && sealed.stderr.contains("sealed"), "\(sealed.stderr)")
      let sealedList = try mailcred(["list"])
      #expect(sealedList.status == 69 && sealedList.stderr.contains("sealed"))
      try #require(try Harness.bao(["operator", "unseal", String(key)]).status == 0)
      #expect(try mailcred(["get", "sealme"]).stdout == "seal-\(Harness.canary)\n")

      var badToken = admin
      badToken["BAO_TOKEN"] = "not-a-token"
      let refused = try mailcred(["get", "sealme"], as: badToken)
      #expect(refused.status == 77 && refused.stderr.contains("refused the token"), "\(refused.stderr)")

      var down = admin
      down["MAILCRED_STORE"] = "openbao+https://127.0.0.1:1/secret/\(prefix)"  // nothing listens on port 1
      let unreachable = try mailcred(["get", "sealme"], as: down)
      #expect(unreachable.status == 69 && unreachable.stderr.contains("cannot reach OpenBao"), "\(unreachable.stderr)")
      #expect(unreachable.seconds < 5)

      // Every node of a listed cluster down: 69 after one round, not after the whole deadline.
      down["MAILCRED_STORE"] = "openbao+https://127.0.0.1:1,127.0.0.1:2,127.0.0.1:3/secret/\(prefix)"
      let allDown = try mailcred(["get", "sealme"], as: down)
      #expect(allDown.status == 69 && allDown.stderr.contains("cannot reach OpenBao"), "\(allDown.stderr)")
      #expect(allDown.seconds < 5)

      var untrusted = admin
      untrusted["BAO_CACERT"] = Harness.caFile  // the mail servers' CA, not OpenBao's
      let tls = try mailcred(["get", "sealme"], as: untrusted)
      #expect(tls.status == 69 && tls.stderr.contains("TLS"), "\(tls.stderr)")
    }
  }
}

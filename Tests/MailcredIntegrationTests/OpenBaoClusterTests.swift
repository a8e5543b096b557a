import Foundation
import Testing

/// The fleet story on a real 3-node OpenBao cluster (Raft storage, TLS on loopback; scripts/harness/
/// openbao-cluster): two servers with their own AppRole send through Dovecot with msmtp's `passwordeval
/// "mailcred get relay"`, an admin rotates once, both follow; the leader is killed and both servers' `get`
/// still answers within the deadline; after the new leader is elected, two admins rotating at once from
/// two HOMEs: exactly one wins, nothing is lost (`restore --previous` brings the other secret back).
/// The store URL lists all three nodes: mailcred fails over to the next when one is down.
@Suite(.enabled(if: Harness.available, "needs scripts/test (OpenBao and mail servers)"))
struct OpenBaoClusterTests {
  @Test func fleetFollowsOneRotationSurvivesTheLeaderAndTwoAdminsRotatingAtOnce() throws {
    let started = Date()
    let directory = try #require(Harness.directory) + "/openbao-cluster-\(UInt32.random(in: 0...UInt32.max))"
    let port = Harness.openBaoPort + 10
    let script = Harness.scripts + "/harness/openbao-cluster"
    let up = try Harness.run(script, ["start", directory, String(port)], deadline: 120)
    defer { _ = try? Harness.run(script, ["stop", directory], deadline: 30) }
    try #require(up.status == 0, "cluster start: \(up.stderr)")
    let clusterUp = Date().timeIntervalSince(started)
    let root = try String(contentsOfFile: directory + "/root-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

    func bao(_ node: Int, _ arguments: [String], stdin: String? = nil) throws -> Harness.Output {
      try Harness.run(
        Harness.openBaoBinary, arguments, stdin: stdin,
        environment: ["BAO_ADDR": "https://127.0.0.1:\(port + node)", "BAO_CACERT": Harness.caFile, "BAO_TOKEN": root], deadline: 30)
    }
    func leader(asking node: Int) throws -> Int? {
      let status = try bao(node, ["status", "-format=json"])
      let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
      guard let address = object?["leader_address"] as? String else { return nil }
      return (0..<3).first { address.hasSuffix(":\(port + $0)") }
    }
    let first = try #require(try leader(asking: 0), "no leader after start")
    func url(_ order: [Int]) -> String {
      "openbao+https://" + order.map { "127.0.0.1:\(port + $0)" }.joined(separator: ",") + "/secret/fleet"
    }
    let everyNode = url([0, 1, 2])

    // The admin (root token) and the relay account, verified live against Dovecot.
    let user = Harness.uniqueName("cluster") + "@example.test"
    let old = "old-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
    let new = "new-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"
    for (password, second) in [(old, false), (new, true)] {
      let set = try Harness.run(
        Harness.scripts + "/harness/set-password", (second ? ["--second"] : []) + [try #require(Harness.directory), user], stdin: password + "\n")
      try #require(set.status == 0, "set-password: \(set.stderr)")
    }
    let admin: [String: String?] = ["MAILCRED_STORE": everyNode, "BAO_CACERT": Harness.caFile, "BAO_TOKEN": root]
    let live = ["--ca-file", Harness.caFile, "--timeout", "10"]
    let added = try Harness.mailcred(
      ["add", "relay", "--user", user, "--smtp", "127.0.0.1:\(Harness.submissionPort)", "--password-stdin"] + live,
      stdin: old + "\n", environment: admin)
    try #require(added.status == 0, "add: \(added.stderr)")

    // Two servers, each with its AppRole (read on relay only); one lists the leader first, one a standby.
    try #require(try bao(first, ["auth", "enable", "approle"]).status == 0)
    let policy = """
      path "secret/data/fleet/relay/*" { capabilities = ["read"] }
      path "secret/metadata/fleet/relay/*" { capabilities = ["read", "list"] }
      """
    try #require(try bao(first, ["policy", "write", "relay-reader", "-"], stdin: policy).status == 0)
    let standby = (first + 1) % 3
    let servers = try [
      FleetServer("c-web1", store: url([first, standby, (first + 2) % 3]), caFile: Harness.caFile, approleMount: "approle",
        policy: "relay-reader", user: user, bao: { try bao(first, $0) }),
      FleetServer("c-web2", store: url([standby, (first + 2) % 3, first]), caFile: Harness.caFile, approleMount: "approle",
        policy: "relay-reader", user: user, bao: { try bao(first, $0) }),
    ]
    for (index, server) in servers.enumerated() { #expect(try server.send("cluster-before-\(index)")) }

    let rotated = try Harness.mailcred(["rotate", "relay", "--password-stdin"] + live, stdin: new + "\n", environment: admin)
    try #require(rotated.status == 0, "rotate: \(rotated.stderr)")
    let revoke = try Harness.run(Harness.scripts + "/harness/set-password", [try #require(Harness.directory), user], stdin: new + "\n")
    try #require(revoke.status == 0)
    for (index, server) in servers.enumerated() { #expect(try server.send("cluster-after-\(index)")) }

    // Kill the leader outright (no step-down). Reads are served by the standbys: `get` answers at once,
    // within its 10 s deadline, on both servers (web1's first address is now dead), and msmtp sends.
    let pids = try String(contentsOfFile: directory + "/pids", encoding: .utf8)
    let line = try #require(pids.split(separator: "\n").first { $0.hasPrefix("node\(first) ") })
    kill(try #require(Int32(line.split(separator: " ")[1])), SIGKILL)
    let killed = Date()
    for (index, server) in servers.enumerated() {
      let got = try server.mailcred(["get", "relay"], deadline: 20)
      #expect(got.status == 0 && got.stdout == new + "\n", "get on server \(index) after the leader died: \(got.stderr)")
      #expect(got.seconds < 10, "get took \(got.seconds) s")
      #expect(try server.send("cluster-leaderless-\(index)"))
    }

    // A new leader among the two left (Raft election; bounded).
    var elected: Int?
    let survivors = [0, 1, 2].filter { $0 != first }
    while elected == nil, Date().timeIntervalSince(killed) < 30 {
      elected = try leader(asking: survivors[0]).flatMap { survivors.contains($0) ? $0 : nil }
      if elected == nil { usleep(200_000) }
    }
    try #require(elected != nil, "no new leader within 30 s")
    let election = Date().timeIntervalSince(killed)

    // Two admins, two HOMEs (own config, token file, runtime dir: their local locks never meet). The test
    // holds the account's cluster lock until both have read the current item and wait for that lock (seen
    // in the audit log by their tokens' names), then lets go: both rotations are truly concurrent.
    let audit = try bao(elected!, ["audit", "enable", "file", "file_path=\(directory)/audit.log"])
    try #require(audit.status == 0, "audit enable: \(audit.stderr)")
    let home = try #require(Harness.directory) + "/tmp/cluster-admins-\(UInt32.random(in: 0...UInt32.max))"
    var admins: [[String: String?]] = []
    for name in ["admin-a", "admin-b"] {
      let path = "\(home)/\(name)"
      for sub in ["/config/mailcred", "/runtime"] {
        try FileManager.default.createDirectory(atPath: path + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
      }
      let token = try bao(elected!, ["token", "create", "-policy=root", "-display-name=\(name)", "-field=token"])
      try #require(token.status == 0, "token create: \(token.stderr)")
      try #require(FileManager.default.createFile(atPath: "\(path)/token", contents: Data(token.stdout.utf8), attributes: [.posixPermissions: 0o600]))
      try "store = \(everyNode)\nca-file = \(Harness.caFile)\ntoken-file = \(path)/token\n"
        .write(toFile: "\(path)/config/mailcred/config", atomically: true, encoding: .utf8)
      admins.append(["HOME": path, "XDG_CONFIG_HOME": "\(path)/config", "XDG_RUNTIME_DIR": "\(path)/runtime", "MAILCRED_STORE": nil, "BAO_TOKEN": nil, "BAO_CACERT": nil])
    }
    let hold = try bao(elected!, ["kv", "put", "-cas=0", "secret/fleet/relay/.lock", "holder=the-test", "since=\(Int(Date().timeIntervalSince1970))"])
    try #require(hold.status == 0, "lock: \(hold.stderr)")
    let secrets = ["a-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))", "b-\(Harness.canary)-\(UInt32.random(in: 0...UInt32.max))"]
    let lock = NSLock()
    nonisolated(unsafe) var outputs: [Int: Harness.Output] = [:]
    let group = DispatchGroup()
    for index in 0..<2 {
      let environment = admins[index]
      DispatchQueue.global().async(group: group) {
        let output = try? Harness.mailcred(["rotate", "relay", "--no-check", "--password-stdin"], stdin: secrets[index] + "\n", environment: environment, deadline: 60)
        lock.lock()
        outputs[index] = output
        lock.unlock()
      }
    }
    func waiting(_ name: String) -> Bool {
      let log = (try? String(contentsOfFile: directory + "/audit.log", encoding: .utf8)) ?? ""
      return log.split(separator: "\n").contains { $0.contains("\"token-\(name)\"") && $0.contains("fleet/relay/.lock") }
    }
    let bothWaitingBy = Date().addingTimeInterval(30)
    while !(waiting("admin-a") && waiting("admin-b")), Date() < bothWaitingBy { usleep(100_000) }
    #expect(waiting("admin-a") && waiting("admin-b"), "the two rotations never both waited for the lock")
    try #require(try bao(elected!, ["kv", "metadata", "delete", "secret/fleet/relay/.lock"]).status == 0)
    #expect(group.wait(timeout: .now() + 90) == .success)

    let statuses = [outputs[0]?.status, outputs[1]?.status]
    #expect(statuses.filter { $0 == 0 }.count == 1 && statuses.filter { $0 == 75 }.count == 1, "statuses \(statuses): \(outputs[0]?.stderr ?? "") \(outputs[1]?.stderr ?? "")")
    let winner = try #require(statuses.firstIndex(of: 0))
    #expect(outputs[1 - winner]?.stderr.contains("another writer") == true, "\(outputs[1 - winner]?.stderr ?? "")")
    let states = try Harness.mailcred(["show", "relay", "--json"], environment: admins[0])
    #expect(states.status == 0 && !states.stdout.contains("pending"), "\(states.stdout)")
    for server in servers {
      #expect(try server.mailcred(["get", "relay"]).stdout == secrets[winner] + "\n")
    }
    // Nothing lost: the secret the winner superseded is in the store's history, one `restore` away.
    let restored = try Harness.mailcred(["restore", "relay", "--previous"], environment: admins[1 - winner])
    #expect(restored.status == 0, "restore --previous: \(restored.stderr)")
    #expect(try servers[0].mailcred(["get", "relay"]).stdout == new + "\n")
    try? FileManager.default.removeItem(atPath: home)
    print(
      "openbao cluster: up in \(String(format: "%.1f", clusterUp)) s, new leader \(String(format: "%.1f", election)) s after the kill, whole test \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
  }
}

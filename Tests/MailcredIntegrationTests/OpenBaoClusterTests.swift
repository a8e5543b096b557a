import Foundation
import Testing

/// A 3-node OpenBao cluster (Raft storage, TLS on loopback; scripts/harness/openbao-cluster): the store
/// keeps answering `get` when its leader dies. Started by this suite only (it costs ~15-35 s here).
///
/// UNFINISHED, so opt-in (MAILCRED_TEST_CLUSTER=1) and not part of the default run: the cluster comes up
/// (the script alone, measured 17-36 s), but under `swift test` this test hung after the script returned
/// and the cause was not found in time; failover itself was not verified either (see the issue-17 note).
@Suite(.enabled(if: Harness.available && Harness.environment["MAILCRED_TEST_CLUSTER"] == "1", "opt-in: MAILCRED_TEST_CLUSTER=1 (unfinished)"))
struct OpenBaoClusterTests {
  @Test func getStillAnswersAfterTheLeaderIsKilled() throws {
    let directory = try #require(Harness.directory) + "/openbao-cluster-\(UInt32.random(in: 0...UInt32.max))"
    let port = Harness.openBaoPort + 10
    let script = Harness.scripts + "/harness/openbao-cluster"
    let started = try Harness.run(script, ["start", directory, String(port)], deadline: 120)
    defer { _ = try? Harness.run(script, ["stop", directory]) }
    try #require(started.status == 0, "cluster start: \(started.stderr)")
    let token = try String(contentsOfFile: directory + "/root-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

    func bao(_ node: Int, _ arguments: [String]) throws -> Harness.Output {
      try Harness.run(
        Harness.openBaoBinary, arguments,
        environment: ["BAO_ADDR": "https://127.0.0.1:\(port + node)", "BAO_CACERT": Harness.caFile, "BAO_TOKEN": token])
    }
    func store(_ node: Int) -> [String: String?] {
      ["MAILCRED_STORE": "openbao+https://127.0.0.1:\(port + node)/secret/fleet", "BAO_CACERT": Harness.caFile, "BAO_TOKEN": token]
    }

    // Which node leads: the others are standbys that forward to it.
    let status = try bao(0, ["status", "-format=json"])
    let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
    let leaderAddress = try #require(object["leader_address"] as? String)
    let leader = try #require((0..<3).first { leaderAddress.hasSuffix(":\(port + $0)") })
    let follower = (leader + 1) % 3

    let secret = "fleet-\(Harness.canary)"
    let added = try Harness.mailcred(
      ["add", "relay", "--user", "relay@example.test", "--smtp", "127.0.0.1:1", "--no-check", "--password-stdin"],
      stdin: secret + "\n", environment: store(leader))
    try #require(added.status == 0, "add: \(added.stderr)")
    #expect(try Harness.mailcred(["get", "relay"], environment: store(follower)).stdout == secret + "\n")

    // Kill the leader outright (no step-down): the two left elect a new one.
    let pids = try String(contentsOfFile: directory + "/pids", encoding: .utf8)
    let line = try #require(pids.split(separator: "\n").first { $0.hasPrefix("node\(leader) ") })
    let pid = try #require(Int32(line.split(separator: " ")[1]))
    kill(pid, SIGKILL)
    let killed = Date()

    // Every `get` meanwhile ends within its deadline (10 s per request) with the secret or a one-line
    // error, never a hang and never "no such account"; within 30 s the answer is the secret again.
    var answered: Harness.Output?
    repeat {
      let got = try Harness.mailcred(["get", "relay"], environment: store(follower).merging(["MAILCRED_STORE_TIMEOUT": "5"]) { $1 }, deadline: 20)
      #expect(got.seconds < 12, "get took \(got.seconds) s")
      #expect(got.status != 67, "a leaderless cluster was reported as a missing account: \(got.stderr)")
      if got.status == 0 { answered = got; break }
      Thread.sleep(forTimeInterval: 0.2)
    } while Date().timeIntervalSince(killed) < 30
    let got = try #require(answered, "no answer within 30 s of killing the leader")
    #expect(got.stdout == secret + "\n")
    print("openbao cluster: get answered \(String(format: "%.1f", Date().timeIntervalSince(killed))) s after the leader was killed")
  }
}

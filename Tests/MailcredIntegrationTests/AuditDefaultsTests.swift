import Foundation
import MailcredCore
import MailcredKeyring
import Testing

extension RealKeyringTests {
  /// `audit`'s defaults (issue 16): one login at a time per user at a server, every other check at once,
  /// and an unchanged result not written to the keyring again within the hour.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (keyring and mail servers)"))
  struct AuditDefaultsTests {
    private func add(_ account: String, user: String, port: Int) throws {
      let added = try Harness.mailcred(
        ["add", account, "--user", user, "--smtp", "127.0.0.1:\(port)", "--smtp-security", "plain", "--password-stdin", "--no-check"],
        stdin: "defaults-\(Harness.canary)-pw\n")
      try #require(added.status == 0, "add \(account): \(added.stderr)")
    }

    private func audit() throws -> Harness.Output {
      let output = try Harness.mailcred(["audit", "--json", "--allow-plaintext", "--timeout", "10"], deadline: 60)
      #expect(!output.stdout.contains(Harness.canary) && !output.stderr.contains(Harness.canary), "secret leaked")
      return output
    }

    private func recorded(_ account: String) throws -> (result: String?, checked: String?) {
      let shown = try Harness.mailcred(["show", account, "--json"])
      let report = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
      return (report?["check_result"] as? String, report?["checked"] as? String)
    }

    /// Two credentials of one user at one server behind a 1 s greeting: checked one after the other (at
    /// least 2 s). A lower bound only: a loaded machine cannot make it pass wrongly.
    @Test func oneUserAtOneServerIsCheckedOneLoginAtATime() throws {
      let server = try LoopbackServer(SMTPScript.slowRejecting(delay: 1))
      defer { server.stop() }
      let prefix = Harness.uniqueName("aud-mbox")
      let user = prefix + "@example.test"
      let accounts = [prefix + "-a", prefix + "-b"]
      for account in accounts { try add(account, user: user, port: server.port) }
      defer { for account in accounts { _ = try? Harness.mailcred(["remove", account, "--yes"]) } }
      let audited = try audit()
      #expect(audited.status == 77)
      #expect(audited.seconds >= 2.0, "two logins of one mailbox overlapped: \(audited.seconds) s")
      #expect(server.acceptCount == 2)
    }

    @Test func anUnchangedResultIsNotRewrittenWithinTheHourAChangedOneIs() throws {
      let verdict = Switch()
      let server = try LoopbackServer(SMTPScript.switchable(verdict))
      defer { server.stop() }
      let account = Harness.uniqueName("aud-unchanged")
      try add(account, user: account + "@example.test", port: server.port)
      defer { _ = try? Harness.mailcred(["remove", account, "--yes"]) }

      #expect(try audit().status == 0)
      let first = try recorded(account)
      #expect(first.result == "ok")
      #expect(first.checked != nil)
      usleep(1_100_000)  // `checked` has one-second resolution
      #expect(try audit().status == 0)
      #expect(server.acceptCount == 2, "the second audit did check")
      #expect(try recorded(account) == first, "the same result, recorded seconds ago, is not written again")

      verdict.accepting = false
      #expect(try audit().status == 77)
      #expect(try recorded(account).result == "rejected")
    }
  }
}

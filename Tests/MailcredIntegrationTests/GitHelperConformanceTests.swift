import Foundation
import Testing

extension RealKeyringTests {
  /// git's own helper conformance sequences (t/lib-credential.sh: helper_test, helper_test_password_expiry_utc,
  /// helper_test_oauth_refresh_token, helper_test_authtype, "not confused by long header") run against
  /// mailcred and the real keyring. What Debian's git 2.39 can say goes through the real `git credential
  /// fill|approve|reject` with an askpass that answers `askpass-username`/`askpass-password`, and both
  /// stdout and stderr are compared exactly as the shell library does (so anything mailcred printed on
  /// stderr fails). What only newer gits send (expiry, refresh token, authtype, wwwauth[]) is fed to the
  /// helper literally, and its stderr must be empty.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
  struct GitHelperConformanceTests {
    let ws: ClientWorkspace
    let askpass: String
    /// Host names of this test alone, so that what one test stored never answers another.
    let id = UInt32.random(in: 0...UInt32.max)
    let canary = Harness.canary

    init() throws {
      ws = try ClientWorkspace("conformance")
      // Answers git's prompt with "askpass-" and the prompt's first word, and says on stderr what it was
      // asked (the shell library's askpass, in other words).
      askpass = try ws.write("askpass", """
        #!/bin/sh
        printf 'askpass: %s\\n' "$*" >&2
        word=$(printf '%s' "$1" | sed 's/ .*//' | tr 'A-Z' 'a-z')
        echo "askpass-$word"

        """)
      try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: askpass)
    }

    func host(_ name: String) -> String { "\(name)-\(id).tld" }

    /// lib-credential.sh's `check`: `git -c credential.helper=mailcred credential CMD`, stdin given, stdout and
    /// stderr compared with the expected text exactly.
    func check(_ command: String, _ input: String, stdout: String = "", stderr: String = "", config: [String] = [],
               sourceLocation: SourceLocation = #_sourceLocation) throws {
      var environment = ws.environment
      environment["GIT_ASKPASS"] = askpass
      let result = try Harness.run(
        "/usr/bin/git", config.flatMap { ["-c", $0] } + ["-c", "credential.helper=mailcred", "credential", command],
        stdin: input + "\n", environment: environment)
      #expect(result.status == 0, "git credential \(command) failed: \(result.stderr)", sourceLocation: sourceLocation)
      #expect(result.stdout == stdout, "git credential \(command): stdout", sourceLocation: sourceLocation)
      #expect(result.stderr == stderr, "git credential \(command): stderr", sourceLocation: sourceLocation)
    }

    /// What git prints when no helper answers and askpass is asked for both.
    func asked(_ proto: String, _ host: String, path: String? = nil) -> (String, String) {
      let shown = path.map { "\(host)/\($0)" } ?? host
      return (
        "protocol=\(proto)\nhost=\(host)\n" + (path.map { "path=\($0)\n" } ?? "") + "username=askpass-username\npassword=askpass-password\n",
        "askpass: Username for '\(proto)://\(shown)': \naskpass: Password for '\(proto)://askpass-username@\(shown)': \n"
      )
    }

    /// The helper itself with literal input: stdout, and an empty stderr asserted.
    func helper(_ operation: String, _ input: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
      let result = try Harness.run(
        ws.path + "/bin/git-credential-mailcred", [operation], stdin: input + "\n", environment: ws.environment)
      #expect(result.status == 0, "helper \(operation): \(result.stderr)", sourceLocation: sourceLocation)
      #expect(result.stderr.isEmpty, "helper \(operation) wrote on stderr: \(result.stderr)", sourceLocation: sourceLocation)
      return result.stdout
    }

    func forget(_ hosts: [String]) throws {
      for host in hosts { _ = try helper("erase", "protocol=https\nhost=\(host)") }
    }

    @Test func hasNoExistingDataThenStoresAndRetrievesPassword() throws {
      let example = host("example")
      defer { try? forget([example]) }
      let (out, err) = asked("https", example)
      try check("fill", "protocol=https\nhost=\(example)", stdout: out, stderr: err)
      try check("approve", "protocol=https\nhost=\(example)\nusername=store-user\npassword=store-pass-\(canary)")
      try check("fill", "protocol=https\nhost=\(example)",
                stdout: "protocol=https\nhost=\(example)\nusername=store-user\npassword=store-pass-\(canary)\n")
    }

    @Test func requiresMatchingProtocolHostUsernameAndPort() throws {
      let example = host("example")
      defer { try? forget([example]) }
      try check("approve", "protocol=https\nhost=\(example)\nusername=store-user\npassword=store-pass-\(canary)")
      var (out, err) = asked("http", example)
      try check("fill", "protocol=http\nhost=\(example)", stdout: out, stderr: err)
      (out, err) = asked("https", host("other"))
      try check("fill", "protocol=https\nhost=\(host("other"))", stdout: out, stderr: err)
      (out, err) = asked("https", example + ":8443")
      try check("fill", "protocol=https\nhost=\(example):8443", stdout: out, stderr: err)
      try check("fill", "protocol=https\nhost=\(example)\nusername=other",
                stdout: "protocol=https\nhost=\(example)\nusername=other\npassword=askpass-password\n",
                stderr: "askpass: Password for 'https://other@\(example)': \n")
    }

    @Test func requiresMatchingPathOnlyWhenTheRequestHasOne() throws {
      let pathHost = host("path")
      defer { _ = try? helper("erase", "protocol=http\nhost=\(pathHost)") }
      try check("approve", "protocol=http\nhost=\(pathHost)\npath=foo.git\nusername=user\npassword=pass-\(canary)",
                config: ["credential.useHttpPath=true"])
      let (out, err) = asked("http", pathHost, path: "bar.git")
      try check("fill", "protocol=http\nhost=\(pathHost)\npath=bar.git", stdout: out, stderr: err, config: ["credential.useHttpPath=true"])
      try check("fill", "protocol=http\nhost=\(pathHost)\npath=foo.git",
                stdout: "protocol=http\nhost=\(pathHost)\npath=foo.git\nusername=user\npassword=pass-\(canary)\n",
                config: ["credential.useHttpPath=true"])
      // Without useHttpPath git sends no path, and a request without a path matches any stored path.
      try check("fill", "protocol=http\nhost=\(pathHost)",
                stdout: "protocol=http\nhost=\(pathHost)\nusername=user\npassword=pass-\(canary)\n")
    }

    @Test func overwritesOnStoreAndForgetsTheOverwrittenOne() throws {
      let example = host("example")
      defer { try? forget([example]) }
      try check("approve", "protocol=https\nhost=\(example)\nusername=user-overwrite\npassword=pass1-\(canary)")
      try check("approve", "protocol=https\nhost=\(example)\nusername=user-overwrite\npassword=pass2-\(canary)")
      try check("fill", "protocol=https\nhost=\(example)\nusername=user-overwrite",
                stdout: "protocol=https\nhost=\(example)\nusername=user-overwrite\npassword=pass2-\(canary)\n")
      #expect(try ws.mailcred(["list"]).stdout.components(separatedBy: "user-overwrite@\(example)").count == 2, "one credential, not two")
      try check("reject", "protocol=https\nhost=\(example)\nusername=user-overwrite\npassword=pass2-\(canary)")
      try check("fill", "protocol=https\nhost=\(example)\nusername=user-overwrite",
                stdout: "protocol=https\nhost=\(example)\nusername=user-overwrite\npassword=askpass-password\n",
                stderr: "askpass: Password for 'https://user-overwrite@\(example)': \n")
    }

    @Test func storesMultipleUsersForgetsOneRemembersTheOtherAndErasesAllMatching() throws {
      let example = host("example")
      defer { try? forget([example]) }
      try check("approve", "protocol=https\nhost=\(example)\nusername=user1\npassword=pass1-\(canary)")
      try check("approve", "protocol=https\nhost=\(example)\nusername=user2\npassword=pass2-\(canary)")
      for n in [1, 2] {
        try check("fill", "protocol=https\nhost=\(example)\nusername=user\(n)",
                  stdout: "protocol=https\nhost=\(example)\nusername=user\(n)\npassword=pass\(n)-\(canary)\n")
      }
      // "does not erase a password distinct from input"
      try check("reject", "protocol=https\nhost=\(example)\nusername=user1\npassword=not-\(canary)")
      try check("fill", "protocol=https\nhost=\(example)\nusername=user1",
                stdout: "protocol=https\nhost=\(example)\nusername=user1\npassword=pass1-\(canary)\n")
      // "can forget user", "remembers other user"
      try check("reject", "protocol=https\nhost=\(example)\nusername=user1")
      try check("fill", "protocol=https\nhost=\(example)\nusername=user1",
                stdout: "protocol=https\nhost=\(example)\nusername=user1\npassword=askpass-password\n",
                stderr: "askpass: Password for 'https://user1@\(example)': \n")
      try check("fill", "protocol=https\nhost=\(example)\nusername=user2",
                stdout: "protocol=https\nhost=\(example)\nusername=user2\npassword=pass2-\(canary)\n")
      // "erases all matching credentials": no username matches every user of the host
      try check("approve", "protocol=https\nhost=\(example)\nusername=user3\npassword=pass1-\(canary)")
      try check("reject", "protocol=https\nhost=\(example)")
      let (out, err) = asked("https", example)
      try check("fill", "protocol=https\nhost=\(example)", stdout: out, stderr: err)
      #expect(!(try ws.mailcred(["list"]).stdout.contains(example)), "erased git credentials are gone at once")
    }

    @Test func storesAnEmptyUsernameAndAnEmptyPasswordAsGiven() throws {
      let sso = host("sso")
      defer { try? forget([sso]) }
      try check("approve", "protocol=https\nhost=\(sso)\nusername=\npassword=")
      try check("fill", "protocol=https\nhost=\(sso)", stdout: "protocol=https\nhost=\(sso)\nusername=\npassword=\n")
      // An empty username is a value: another user is not answered with it.
      #expect(try helper("get", "protocol=https\nhost=\(sso)\nusername=someone").isEmpty)
    }

    @Test func storesAndGetsPasswordExpiryAndOverwritesWhenItChanges() throws {
      let example = host("example")
      defer { try? forget([example]) }
      #expect(try helper("store", "protocol=https\nhost=\(example)\nusername=user-expiry\npassword=pass-\(canary)\npassword_expiry_utc=9999999999").isEmpty)
      #expect(try helper("get", "protocol=https\nhost=\(example)\nusername=user-expiry")
              == "username=user-expiry\npassword=pass-\(canary)\npassword_expiry_utc=9999999999\n")
      _ = try helper("store", "protocol=https\nhost=\(example)\nusername=user-expiry-overwrite\npassword=pass1-\(canary)\npassword_expiry_utc=9999999998")
      _ = try helper("store", "protocol=https\nhost=\(example)\nusername=user-expiry-overwrite\npassword=pass2-\(canary)\npassword_expiry_utc=9999999999")
      #expect(try helper("get", "protocol=https\nhost=\(example)\nusername=user-expiry-overwrite")
              == "username=user-expiry-overwrite\npassword=pass2-\(canary)\npassword_expiry_utc=9999999999\n")
      // A store that only changes the expiry updates it.
      _ = try helper("store", "protocol=https\nhost=\(example)\nusername=user-expiry-overwrite\npassword=pass2-\(canary)\npassword_expiry_utc=9999999997")
      #expect(try helper("get", "protocol=https\nhost=\(example)\nusername=user-expiry-overwrite")
              == "username=user-expiry-overwrite\npassword=pass2-\(canary)\npassword_expiry_utc=9999999997\n")
      _ = try helper("erase", "protocol=https\nhost=\(example)\nusername=user-expiry-overwrite\npassword=pass2-\(canary)")
      #expect(try helper("get", "protocol=https\nhost=\(example)\nusername=user-expiry-overwrite").isEmpty)
    }

    @Test func storesAndGetsTheOAuthRefreshTokenAndGetPrintsOnlyThePassword() throws {
      let example = host("example")
      defer { try? forget([example]) }
      _ = try helper("store", "protocol=https\nhost=\(example)\nusername=user4\npassword=pass-\(canary)\noauth_refresh_token=xyzzy-\(canary)")
      #expect(try helper("get", "protocol=https\nhost=\(example)\nusername=user4")
              == "username=user4\npassword=pass-\(canary)\noauth_refresh_token=xyzzy-\(canary)\n")
      #expect(try Harness.run(try #require(Harness.binary), ["get", "user4@\(example)"], environment: ws.environment).stdout == "pass-\(canary)\n")
    }

    @Test func storesAndGetsAuthtypeCredentialsOnlyForAGitThatAnnouncesAuthtype() throws {
      let gitHost = host("git")
      defer { try? forget([gitHost, host("git2")]) }
      _ = try helper("store", "capability[]=authtype\nauthtype=Bearer\ncredential=random-token-\(canary)\nprotocol=https\nhost=\(gitHost)")
      #expect(try helper("get", "capability[]=authtype\nprotocol=https\nhost=\(gitHost)")
              == "capability[]=authtype\nauthtype=Bearer\ncredential=random-token-\(canary)\n")
      #expect(try helper("get", "protocol=https\nhost=\(gitHost)").isEmpty, "a git without authtype cannot use a token")
      _ = try helper("store", "capability[]=authtype\nauthtype=Bearer\ncredential=other-token-\(canary)\nprotocol=https\nhost=\(gitHost)\nusername=foobar")
      #expect(try helper("get", "capability[]=authtype\nprotocol=https\nhost=\(gitHost)\nusername=foobar")
              == "capability[]=authtype\nusername=foobar\nauthtype=Bearer\ncredential=other-token-\(canary)\n")
      #expect(try helper("get", "capability[]=authtype\nprotocol=https\nhost=\(gitHost)\nusername=barbaz").isEmpty)
      // authtype without git's capability announcement is not understood, so not stored
      _ = try helper("store", "authtype=Bearer\ncredential=x-\(canary)\nprotocol=https\nhost=\(host("git2"))")
      // ephemeral credentials are never stored, whatever they are
      _ = try helper("store", "capability[]=authtype\nauthtype=Bearer\ncredential=git2-token-\(canary)\nprotocol=https\nhost=\(host("git2"))\nephemeral=1")
      _ = try helper("store", "capability[]=authtype\nprotocol=https\nhost=\(host("git2"))\nusername=barbaz\npassword=secret-\(canary)\nephemeral=1")
      #expect(try helper("get", "capability[]=authtype\nprotocol=https\nhost=\(host("git2"))").isEmpty)
      #expect(!(try ws.mailcred(["list"]).stdout.contains(host("git2"))))
    }

    @Test(arguments: [1024 - 23, 4096, 100_000])
    func notConfusedByALongHeader(valueLength: Int) throws {
      let victim = host("victim")
      defer { try? forget([victim]) }
      _ = try helper("store", "protocol=https\nhost=\(victim)\nusername=user\npassword=to-be-stolen-\(canary)")
      let long = "wwwauth[]=basic realm=" + String(repeating: "a", count: valueLength) + "host=\(victim)"
      #expect(try helper("get", "protocol=https\nhost=\(host("badguy"))\n\(long)").isEmpty)
      // The same long line in a request for the right host does not stop the answer either.
      #expect(try helper("get", "protocol=https\nhost=\(victim)\n\(long)") == "username=user\npassword=to-be-stolen-\(canary)\n")
    }

    @Test func stateCapabilityStateLinesAndUnknownKeysAreIgnored() throws {
      let example = host("state")
      defer { try? forget([example]) }
      _ = try helper("store", "capability[]=state\nstate[]=other:abc\nprotocol=https\nhost=\(example)\nusername=u\npassword=p-\(canary)\nfuture=1\ncontinue=1")
      #expect(try helper("get", "capability[]=authtype\ncapability[]=state\nstate[]=other:x\nprotocol=https\nhost=\(example)\nx-new=1")
              == "username=u\npassword=p-\(canary)\n", "mailcred keeps no state, so it neither announces nor sends any")
    }

    @Test func anEmptyEraseErasesNothingAndAnotherProtocolIsAnotherCredential() throws {
      let example = host("proto")
      defer { try? forget([example]); _ = try? helper("erase", "protocol=imap\nhost=\(example)") }
      _ = try helper("store", "protocol=https\nhost=\(example)\nusername=u\npassword=p-\(canary)")
      _ = try helper("erase", "password=p-\(canary)")
      _ = try helper("erase", "")
      #expect(try helper("get", "protocol=https\nhost=\(example)") == "username=u\npassword=p-\(canary)\n")
      #expect(try helper("get", "protocol=http\nhost=\(example)").isEmpty)
      #expect(try helper("get", "protocol=smtp\nhost=\(example)").isEmpty)
      // A mail protocol with an empty username is no mail account: a git credential of that protocol.
      _ = try helper("store", "protocol=imap\nhost=\(example)\nusername=\npassword=m-\(canary)")
      #expect(try helper("get", "protocol=imap\nhost=\(example)") == "username=\npassword=m-\(canary)\n")
      #expect(try helper("get", "protocol=smtp\nhost=\(example)").isEmpty)
    }

    @Test func gitCredentialsAreListedShownNotCheckableJudgedByExpiryAndRemovable() throws {
      let example = host("listed")
      let account = "lister@\(example)"
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      _ = try helper("store", "protocol=https\nhost=\(example)\npath=team/repo.git\nusername=lister\npassword=l-\(canary)\npassword_expiry_utc=1000000000")
      let list = try ws.mailcred(["list"])
      #expect(list.stdout.contains(account) && list.stdout.contains(" git "), "\(list.stdout)")
      let show = try ws.mailcred(["show", account])
      #expect(show.stdout.contains("url:") && show.stdout.contains("https://lister@\(example)/team/repo.git"), "\(show.stdout)")
      let json = try ws.mailcred(["show", account, "--json"])
      #expect(json.stdout.contains("\"path\" : \"team/repo.git\""), "\(json.stdout)")
      let checked = try ws.mailcred(["check", account])
      #expect(checked.stdout.contains("\(account)  not checkable"), "\(checked.stdout)")
      #expect(checked.status == 77, "an expired git credential fails check on its expiry alone")
      let checkedJSON = try ws.mailcred(["check", account, "--json"])
      #expect(checkedJSON.stdout == "[\n\n]\n" || checkedJSON.stdout == "[]\n", "no live check to report: \(checkedJSON.stdout)")
      let audit = try ws.mailcred(["audit", "--offline"])
      #expect(audit.stdout.contains("not checkable"), "\(audit.stdout)")
      #expect(audit.status == 77, "\(audit.stdout)")
      #expect(try ws.mailcred(["remove", account, "--yes"]).status == 0)
      #expect(try helper("get", "protocol=https\nhost=\(example)").isEmpty)
    }

    @Test func aMailAccountErasedByGitSaysWhenAndHowToRestoreInListAndShow() throws {
      let account = Harness.uniqueName("erased")
      let user = account + "@example.test"
      let added = try ws.mailcred(["add", account, "--user", user, "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"], stdin: "e-\(canary)\n")
      #expect(added.status == 0, "\(added.stderr)")
      defer { _ = try? ws.mailcred(["remove", account, "--yes"]) }
      #expect(try helper("erase", "protocol=smtp\nhost=127.0.0.1:2525\nusername=\(user)").isEmpty)
      let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
      let expected = "erased at git's request on \(today) — `mailcred restore \(account)`"
      #expect(try ws.mailcred(["list"]).stdout.contains(expected))
      #expect(try ws.mailcred(["show", account]).stdout.contains(expected))
      #expect(try ws.mailcred(["restore", account]).status == 0)
      #expect(try helper("get", "protocol=smtp\nhost=127.0.0.1:2525\nusername=\(user)") == "username=\(user)\npassword=e-\(canary)\n")
    }
  }
}

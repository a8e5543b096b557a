import Foundation
import Testing

extension RealKeyringTests {
  /// Bad input at every command: a one-line error, exit 64 (usage) or 65 (data), nothing on stdout,
  /// nothing stored, nothing already stored lost.
  @Suite(.enabled(if: Harness.available, "needs scripts/test (private keyring)"))
  struct InputValidationTests {
    static let badNames = ["", String(repeating: "n", count: 1000), "a/b", "new\nline", "tab\tname", "-dash"]

    func expectOneLineRefusal(_ result: Harness.Output, _ context: String) {
      #expect(result.status == 64 || result.status == 65, "\(context): exit \(result.status) \(result.stderr)")
      #expect(result.stdout.isEmpty, "\(context): stdout \(result.stdout)")
      #expect(result.stderr.split(separator: "\n").count == 1, "\(context): \(result.stderr)")
    }

    @Test(arguments: ["get", "show", "remove", "restore", "check", "rotate"])
    func badAccountNamesAreRefusedByEveryCommand(command: String) throws {
      let keep = Harness.uniqueName("keep")
      #expect(try Harness.mailcred(
        ["add", keep, "--user", "v@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"],
        stdin: "kept-\(Harness.canary)\n").status == 0)
      for name in Self.badNames {
        var arguments = [command, name]
        if command == "remove" { arguments.append("--yes") }
        if command == "rotate" { arguments += ["--password-stdin", "--no-check"] }
        // "--" so that a name starting with '-' reaches the command as a name.
        if name.hasPrefix("-") { arguments = [command, "--", name] + arguments.dropFirst(2) }
        expectOneLineRefusal(try Harness.mailcred(arguments, stdin: "x-\(Harness.canary)\n"), "\(command) \(name.prefix(20).debugDescription)")
      }
      #expect(try Harness.mailcred(["get", keep]).stdout == "kept-\(Harness.canary)\n")
      try Harness.mailcred(["remove", keep, "--yes"])
    }

    @Test func badNamesAndSecretsAreNotStored() throws {
      for name in Self.badNames {
        let result = try Harness.mailcred(
          ["add", "--user", "v@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check", "--", name],
          stdin: "pw-\(Harness.canary)\n")
        expectOneLineRefusal(result, "add \(name.prefix(20).debugDescription)")
      }
      let account = Harness.uniqueName("nul")
      for secret: [UInt8] in [Array("a\0b".utf8) + [0x0a], [0xff, 0xfe, 0x0a], [0x0a], Array(repeating: 0x61, count: 70_000) + [0x0a]] {
        let result = try Harness.mailcred(
          ["add", account, "--user", "v@example.test", "--smtp", "127.0.0.1:2525", "--password-stdin", "--no-check"],
          stdinBytes: secret)
        expectOneLineRefusal(result, "secret of \(secret.count) bytes")
      }
      #expect(try Harness.mailcred(["get", account]).status == 67)
    }

    @Test(arguments: [
      ["--timeout", "0"], ["--timeout", "-1"], ["--timeout", "abc"], ["--timeout", "100000"],
      ["--ca-file", ""], ["--jobs", "0"], ["--warn-days", "-1"], ["--jobs", "many"],
    ])
    func badOptionValuesAreUsageErrors(option: [String]) throws {
      let command = option[0] == "--warn-days" || option[0] == "--jobs" ? ["audit", "--offline"] : ["check", "--all"]
      expectOneLineRefusal(try Harness.mailcred(command + option), "\(command) \(option)")
    }

    @Test(arguments: [
      ["--expires-in", "0d"], ["--expires-in", "-5d"], ["--expires-in", "1.5y"], ["--expires-in", "90"],
      ["--expires", "2026-02-30"], ["--expires", "tomorrow"], ["--created", "2026-13-01"],
      ["--expires", "2027-01-01", "--expires-in", "90d"], ["--smtp", "host:0"], ["--smtp", "host:70000"],
      ["--smtp", "host:abc"], ["--smtp", "[::1"], ["--imap", "bad host"], ["--kind", "token"],
      ["--smtp-security", "none"],
    ])
    func badDatesDurationsHostsAndPortsAreRefused(option: [String]) throws {
      let account = Harness.uniqueName("opt")
      var arguments = ["add", account, "--user", "v@example.test", "--password-stdin", "--no-check"]
      if !option.contains("--smtp") && !option.contains("--imap") { arguments += ["--smtp", "127.0.0.1:2525"] }
      let result = try Harness.mailcred(arguments + option, stdin: "pw-\(Harness.canary)\n")
      expectOneLineRefusal(result, "\(option)")
      #expect(try Harness.mailcred(["get", account]).status == 67)
    }
  }
}

import MailcredCore
import Testing

@testable import MailcredNet

/// Choosing the store: MAILCRED_STORE, the config file, and what a typo must not do (fall back silently).
@Suite struct StoreConfigurationTests {
  func choose(_ env: [String: String] = [:], _ file: String? = nil) throws(KeyringError) -> StoreConfiguration.Choice {
    try StoreConfiguration.choose(environment: { env[$0] }, file: "/home/u/.config/mailcred/config", contents: file)
  }

  @Test func theSecretServiceIsTheDefault() throws {
    #expect(try choose() == .secretService)
    #expect(try choose([:], "# nothing here\n\n") == .secretService)
    #expect(try choose(["MAILCRED_STORE": "secret-service"], "store = openbao+https://b:8200/secret/x\n") == .secretService)
  }

  @Test func theConfigFileNamesAnOpenBaoStore() throws {
    let text = """
      # team store
      store = openbao+https://bao.example:8201/kv/mail/team
      ca-file = /etc/ssl/bao.pem
      namespace = ops
      role-id-file = /etc/mailcred/role-id
      secret-id-file = /etc/mailcred/secret-id
      timeout = 3
      jobs = 4
      """
    guard case .openBao(let settings) = try choose([:], text) else { Issue.record("not OpenBao"); return }
    #expect(settings.host == "bao.example" && settings.port == 8201)
    #expect(settings.mount == "kv" && settings.prefix == "mail/team")
    #expect(settings.caFile == "/etc/ssl/bao.pem" && settings.namespace == "ops")
    #expect(settings.roleIDFile == "/etc/mailcred/role-id" && settings.secretIDFile == "/etc/mailcred/secret-id")
    #expect(settings.timeout == 3 && settings.jobs == 4)
  }

  @Test func theEnvironmentWinsOverTheFile() throws {
    let env = ["MAILCRED_STORE": "vault+https://127.0.0.1/secret/p", "BAO_CACERT": "/ca.pem", "MAILCRED_STORE_TIMEOUT": "2"]
    guard case .openBao(let settings) = try choose(env, "store = openbao+https://other/x/y\nca-file = /file.pem\n") else {
      Issue.record("not OpenBao")
      return
    }
    #expect(settings.host == "127.0.0.1" && settings.port == 8200 && settings.prefix == "p")
    #expect(settings.caFile == "/ca.pem" && settings.timeout == 2)
  }

  @Test(arguments: [
    "http://bao:8200/secret/x",  // no cleartext
    "openbao+http://bao:8200/secret/x",
    "openbao+https://bao:8200/secret",  // no prefix
    "openbao+https://bao:8200/secret/../x",
    "openbao+https://bao:8200/secret/a b",
  ])
  func badStoreURLsAreRefused(url: String) {
    #expect(throws: KeyringError.self) { try choose(["MAILCRED_STORE": url]) }
  }

  @Test func aClusterListsItsNodes() throws {
    guard case .openBao(let settings) = try choose(["MAILCRED_STORE": "openbao+https://bao1:8201,[::1],10.0.0.3:8202/secret/team"]) else {
      Issue.record("not OpenBao")
      return
    }
    #expect(settings.nodes.map(\.host) == ["bao1", "::1", "10.0.0.3"] && settings.nodes.map(\.port) == [8201, 8200, 8202])
    #expect(settings.description == "openbao+https://bao1:8201,[::1]:8200,10.0.0.3:8202/secret/team")
    #expect(throws: KeyringError.self) { try choose(["MAILCRED_STORE": "openbao+https://bao1,,bao2/secret/team"]) }
  }

  @Test func everySettingErrorIsAConfigurationError() {
    for (env, file) in [
      (["MAILCRED_STORE": "http://bao:8200/secret/x"], nil), ([:], "stor = openbao+https://b/secret/x\n"),
      ([:], "store = openbao+https://b/secret/x\njobs = 0\n"),
    ] as [([String: String], String?)] {
      do {
        _ = try choose(env, file)
        Issue.record("accepted \(env) \(file ?? "")")
      } catch {
        guard case .misconfigured = error else { Issue.record("\(error) is not .misconfigured"); continue }
        #expect(error.exitStatus == .configurationError)
      }
    }
  }

  @Test func typosAndHalfAnAppRoleAreErrors() {
    #expect(throws: KeyringError.self) { try choose([:], "stor = openbao+https://b/secret/x\n") }
    #expect(throws: KeyringError.self) { try choose([:], "store openbao+https://b/secret/x\n") }
    #expect(throws: KeyringError.self) { try choose([:], "store = openbao+https://b/secret/x\nrole-id-file = /r\n") }
    #expect(throws: KeyringError.self) { try choose([:], "store = openbao+https://b/secret/x\ntimeout = soon\n") }
  }
}

/// The JSON OpenBao answers: nested objects, arrays, escapes; the secret stays bytes.
@Suite struct BaoJSONTests {
  @Test func readsAKVv2Answer() throws {
    let text = #"{"request_id":"x","data":{"data":{"secret":"p\u00e4ss \"q\"\n\ud83d\ude00"},"metadata":{"version":3,"deletion_time":""}},"warnings":null}"#
    let json = try #require(BaoJSON.parse(Array(text.utf8)))
    guard case .string(let secret)? = json["data"]?["data"]?["secret"] else { Issue.record("no secret"); return }
    #expect(secret == Array("päss \"q\"\n😀".utf8))
    #expect(json["data"]?["metadata"]?["version"]?.integer == 3)
  }

  @Test func listsAndCustomMetadata() throws {
    let text = #"{"data":{"keys":["a/","b"],"custom_metadata":{"account":"relay","state":"current"}}}"#
    let json = try #require(BaoJSON.parse(Array(text.utf8)))
    #expect(json["data"]?["keys"]?.array?.compactMap(\.text) == ["a/", "b"])
    #expect(json["data"]?["custom_metadata"]?.stringMap == ["account": "relay", "state": "current"])
  }

  @Test(arguments: [#"{"a":}"#, #"{"a":"b""#, "[1,2", #"{"a":"\x"}"#, "{} x", ""])
  func malformedIsNil(text: String) {
    #expect(BaoJSON.parse(Array(text.utf8)) == nil)
  }

  @Test func writtenStringsRoundTrip() throws {
    let value = "q\"uote\\ back\u{01}slash ü"
    var out: [UInt8] = []
    appendJSONString(value.utf8, to: &out)
    let json = try #require(BaoJSON.parse(Array("{\"v\":".utf8) + out + [UInt8(ascii: "}")]))
    #expect(json["v"]?.text == value)
    #expect(BaoJSON.parse(Array(jsonObject(["k": value, "a": "1"]).utf8))?.stringMap == ["k": value, "a": "1"])
  }
}

// libFuzzer entry: the git credential codec and the helper's matching on an in-memory keyring.
// Built by scripts/fuzz together with MailcredCore's sources (one module, so internals are reachable).

nonisolated(unsafe) private var helper: GitCredentialHelper? = nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGitCredential(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let input = Array(UnsafeBufferPointer(start: data, count: size))
  guard let message = try? GitCredentialMessage.parse(input) else { return 0 }
  let out = message.serialized()
  guard let again = try? GitCredentialMessage.parse(out), again.serialized() == out else {
    fatalError("serialized output does not parse back to itself")
  }
  if helper == nil {
    let store = CredentialStore(keyring: InMemoryKeyring())
    try? store.add(
      Credential(account: "a", kind: .password, user: "alice",
        smtp: Endpoint(proto: .smtp, host: "a.example", port: 587, security: .starttls), created: .init(timeIntervalSince1970: 0)),
      secret: SecretBytes(taking: Array("secret-of-a".utf8)), replace: false)
    helper = GitCredentialHelper(store: store)
  }
  if let (_, secret) = try? helper!.get(message) {
    let host = (message.host ?? "").lowercased()
    if secret.bytes == Array("secret-of-a".utf8) && !(host == "a.example" || host == "a.example:587") {
      fatalError("answered a.example's secret for host \(host)")
    }
  }
  return 0
}

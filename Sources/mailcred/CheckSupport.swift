import MailcredCore
import MailcredSpelling
import MailcredNet

extension LiveCheckOptions {
  var netOptions: CheckOptions { CheckOptions(timeout: timeout, caFile: caFile, allowPlaintext: allowPlaintext) }

  /// The verification service over the real network with these options.
  func checks(_ store: CredentialStore, limits: CheckLimits = CheckLimits()) -> CredentialChecks {
    CredentialChecks(store: store, backend: LiveChecks(options: netOptions, now: { now() }), limits: limits, now: { now() })
  }
}

/// The lines `add`, `authorize` and `import` print for a new secret's checks that did not succeed, with a
/// warning when the secret is stored anyway. A rejected secret is thrown (not stored).
func report(_ verification: Verification, account: String, provider: Provider?, kind: CredentialKind? = nil, rejected what: String)
  throws(MailcredError)
{
  for result in verification.failures { printResult(result, account: account, provider: provider, kind: kind) }
  switch verification.decision {
  case .verified: break
  case .rejected(let rejection): throw .rejectedNotStored(rejection.verdict, what: what)
  case .unverified(let verdict):
    warn("stored without a successful check (\(verdict.rawValue)); run `\(AdviceCommand.check(account).text)` later")
  }
}

/// One human line per endpoint, and the hint when it did not authenticate.
func resultLine(_ result: CheckResult, account: String) -> String {
  let e = result.endpoint
  let ms = Int((result.latency * 1000).rounded())
  return "\(account)  \(e.proto.rawValue) \(e.hostAndPort) \(e.security.rawValue)  \(result.verdict.rawValue)  \(ms) ms  \(oneLine(result.detail))"
}

func printResult(_ result: CheckResult, account: String, provider: Provider?, kind: CredentialKind? = nil) {
  Terminal.writeError(resultLine(result, account: account))
  if result.verdict != .ok { Terminal.writeError("  hint: \(hint(for: result, provider: provider, account: account, kind: kind).text)") }
}

/// Server text folded onto one line and bounded, for tables and one-line errors.
func oneLine(_ text: String) -> String {
  var out = ""
  for scalar in text.unicodeScalars.prefix(300) {
    out.unicodeScalars.append(scalar.value < 0x20 || scalar.value == 0x7f ? " " : scalar)
  }
  return out
}

/// The machine form of one check (`check --json`, `audit --json`).
struct CheckReport: Encodable {
  var account: String
  var `protocol`: String
  var host: String
  var port: Int
  var security: String
  var result: String
  var latency_ms: Int
  var detail: String
  var hint: String?
  /// The diagnostic probes run after a failure (issue 18); absent when none ran.
  var probes: [ProbeReport]?
  /// What the probes established; absent when they settled nothing.
  var diagnosis: DiagnosisReport?

  struct ProbeReport: Encodable {
    var port: Int
    var probe: String
    var answer: String
    var greeting: String?
    var detail: String
    var ms: Int
  }

  struct DiagnosisReport: Encodable {
    var cause: String
    /// The endpoint that would work, when there is one.
    var port: Int?
    var security: String?
  }

  init(_ result: CheckResult, account: String, provider: Provider?, kind: CredentialKind? = nil, user: String? = nil) {
    self.account = account
    self.protocol = result.endpoint.proto.rawValue
    host = result.endpoint.host
    port = result.endpoint.port
    security = result.endpoint.security.rawValue
    self.result = result.verdict.rawValue
    latency_ms = Int((result.latency * 1000).rounded())
    detail = result.detail
    hint = result.verdict == .ok ? nil : MailcredCore.hint(for: result, provider: provider, account: account, kind: kind, user: user).text
    if !result.probes.isEmpty {
      probes = result.probes.map {
        ProbeReport(port: $0.port, probe: $0.method.rawValue, answer: $0.answer.rawValue, greeting: $0.greeting.map(oneLine),
          detail: $0.detail, ms: Int(($0.seconds * 1000).rounded()))
      }
    }
    if let conclusion = result.conclusion {
      let fixed = conclusion.suggested(for: result.endpoint)
      diagnosis = DiagnosisReport(cause: conclusion.code, port: fixed?.port, security: fixed?.security.rawValue)
    }
  }
}

import Foundation
import Synchronization
import Testing

@testable import MailcredCore

/// The verification service on the in-memory keyring with a scripted backend: what every command's checks
/// go through (issue 14). The same flows run against Dovecot and the OAuth2 server in the integration tests.
@Suite struct CredentialChecksTests {
  static let created = Date(timeIntervalSince1970: 1_790_000_000)

  /// A server that accepts `accepted`, answers everything else with `otherwise`, and counts what it saw.
  final class Backend: CheckBackend {
    let accepted: Set<String>
    let otherwise: CheckClass
    let refreshDelay: Swift.Duration
    let refreshFailure: OAuthFailure?
    private let state = Mutex((inFlight: 0, maxInFlight: 0, refreshes: 0, checks: [String]()))

    init(accepting accepted: Set<String>, otherwise: CheckClass = .rejected, refreshDelay: Swift.Duration = .zero, refreshFailure: OAuthFailure? = nil) {
      self.accepted = accepted
      self.otherwise = otherwise
      self.refreshDelay = refreshDelay
      self.refreshFailure = refreshFailure
    }

    var maxConcurrentRefreshes: Int { state.withLock { $0.maxInFlight } }
    var refreshes: Int { state.withLock { $0.refreshes } }
    var checked: [String] { state.withLock { $0.checks } }

    func check(_ job: CheckJob) async -> CheckResult {
      let text = job.secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
      state.withLock { $0.checks.append("\(job.endpoint.proto.rawValue) \(job.user)") }
      let ok = accepted.contains(text)
      return CheckResult(endpoint: job.endpoint, verdict: ok ? .ok : otherwise, detail: ok ? "235 ok" : "535 no", latency: 0.001)
    }

    func refreshGrant(account: String, store: CredentialStore) async -> Result<OAuthRefresher.Token, OAuthFailure> {
      state.withLock { s in
        s.inFlight += 1
        s.maxInFlight = max(s.maxInFlight, s.inFlight)
        s.refreshes += 1
      }
      try? await Task.sleep(for: refreshDelay)
      state.withLock { $0.inFlight -= 1 }
      if let refreshFailure { return .failure(refreshFailure) }
      return .success(OAuthRefresher.Token(accessToken: SecretBytes(taking: Array("token".utf8)), refreshed: true))
    }

    func offload(_ work: @escaping @Sendable () -> Void) async { work() }

    func monotonicSeconds() -> Double { Date().timeIntervalSince1970 }
  }

  static func credential(_ account: String, kind: CredentialKind = .appPassword, user: String = "me@example.com") -> Credential {
    Credential(
      account: account, kind: kind, user: user,
      smtp: Endpoint(proto: .smtp, host: "smtp.example.com", port: 587, security: .starttls),
      imap: Endpoint(proto: .imap, host: "imap.example.com", port: 993, security: .tls), created: created,
      oauth: kind == .oauth2 ? OAuthSettings(clientID: "c", tokenEndpoint: "https://id.example.com/token", scopes: ["mail"]) : nil)
  }

  func secret(_ text: String) -> SecretBytes { SecretBytes(taking: Array(text.utf8)) }

  func checks(_ store: CredentialStore, _ backend: Backend) -> CredentialChecks {
    CredentialChecks(store: store, backend: backend, now: { Self.created.addingTimeInterval(3600) })
  }

  // MARK: A new secret

  @Test func aNewSecretIsVerifiedOnEveryEndpointAndTheDecisionFollowsTheWorst() async {
    let store = CredentialStore(keyring: InMemoryKeyring())
    let backend = Backend(accepting: ["right"], otherwise: .rejected)
    let good = await checks(store, backend).verify(Self.credential("a"), secret: secret("right"))
    #expect(good.decision == .verified)
    #expect(good.results.map(\.endpoint.proto) == [.smtp, .imap], "in the credential's endpoint order")
    let bad = await checks(store, backend).verify(Self.credential("a"), secret: secret("wrong"))
    guard case .rejected(let rejection) = bad.decision else {
      Issue.record("a refused secret must be rejected: \(bad.decision)")
      return
    }
    #expect(rejection.verdict == .rejected)
    let down = await checks(store, Backend(accepting: [], otherwise: .timeout)).verify(Self.credential("a"), secret: secret("x"))
    #expect(down.decision == .unverified(.timeout))
    let smtpOnly = await checks(store, backend).verify(Self.credential("a"), secret: secret("right"), only: .smtp)
    #expect(smtpOnly.results.map(\.endpoint.proto) == [.smtp])
  }

  @Test func recordedOnACredentialOnlyWhenSomethingRan() {
    let credential = Self.credential("a")
    let time = Self.created.addingTimeInterval(60)
    #expect(Verification(results: []).recorded(on: credential, at: time) == credential)
    let result = CheckResult(endpoint: credential.smtp!, verdict: .temporary, detail: "451", latency: 0)
    let recorded = Verification(results: [result]).recorded(on: credential, at: time)
    #expect(recorded.checked == time && recorded.checkResult == "temporary")
  }

  // MARK: Stored credentials

  @Test func twentyGrantsAreRefreshedAtOnceNotOneAfterAnother() async throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    for index in 1...20 { try store.add(Self.credential("grant\(index)", kind: .oauth2), secret: secret("payload"), replace: false) }
    let backend = Backend(accepting: ["token"], refreshDelay: .seconds(1))
    let started = Date()
    let found = try await checks(store, backend).checkStored(try store.all(), recording: .always)
    let elapsed = Date().timeIntervalSince(started)
    #expect(backend.refreshes == 20)
    #expect(backend.maxConcurrentRefreshes == 20, "refreshes ran one after another")
    // In flight at once is the proof; the time only has to be far from the 20 s of one after another (the
    // test process's cooperative pool is shared with every other suite running alongside).
    #expect(elapsed < 15, "20 refreshes of 1 s took \(elapsed) s")
    #expect(found.results.count == 20 && found.results.values.allSatisfy { $0.map(\.verdict) == [.ok, .ok] })
    // Each grant's result landed on its item, with the refresh time.
    for entry in try store.all() {
      #expect(entry.credential.checkResult == "ok" && entry.credential.refreshed != nil, "\(entry.credential.account)")
    }
  }

  @Test func aRefusedGrantIsTheResultOfEachOfItsEndpoints() async throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    try store.add(Self.credential("grant", kind: .oauth2), secret: secret("payload"), replace: false)
    let backend = Backend(accepting: ["token"], refreshFailure: .refused(error: "invalid_grant", description: "revoked"))
    let found = try await checks(store, backend).checkStored(try store.all(), recording: .always)
    let results = try #require(found.results.values.first)
    #expect(results.map(\.verdict) == [.rejected, .rejected])
    #expect(results.allSatisfy { $0.detail.hasPrefix(OAuthCheck.tokenEndpointPrefix) })
    #expect(backend.checked.isEmpty, "no login without an access token")
    // A refused grant was not refreshed: the record must not claim it was.
    #expect(try store.current(account: "grant").credential.refreshed == nil)
  }

  @Test func aKeyringFailureWhileRefreshingStopsTheChecksWithThatError() async throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    try store.add(Self.credential("grant", kind: .oauth2), secret: secret("payload"), replace: false)
    let backend = Backend(accepting: [], refreshFailure: .store(.keyring(.locked)))
    await #expect(throws: MailcredError.self) { try await checks(store, backend).checkStored(try store.all(), recording: .always) }
  }

  @Test func onlyCurrentMailCredentialsAreCheckedAndGitOnesNever() async throws {
    let keyring = InMemoryKeyring()
    let store = CredentialStore(keyring: keyring)
    try store.add(Self.credential("mail"), secret: secret("right"), replace: false)
    var git = Self.credential("git", kind: .git)
    git.smtp = nil
    git.imap = nil
    try store.add(git, secret: secret("right"), replace: false)
    let backend = Backend(accepting: ["right"])
    let found = try await checks(store, backend).checkStored(try store.all(), only: .imap, recording: .never)
    #expect(backend.checked == ["imap me@example.com"])
    #expect(found.results.count == 1)
    #expect(try store.current(account: "mail").credential.checked == nil, "recording: .never writes nothing")
  }

  @Test func anUnchangedResultRecordedWithinTheIntervalIsNotWrittenAgain() async throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    var credential = Self.credential("a")
    let lastCheck = Self.created.addingTimeInterval(3000)  // 10 minutes before the checks' "now"
    credential.checked = lastCheck
    credential.checkResult = "ok"
    try store.add(credential, secret: secret("right"), replace: false)
    _ = try await checks(store, Backend(accepting: ["right"])).checkStored(try store.all(), recording: .unlessUnchangedWithin(3600))
    #expect(try store.current(account: "a").credential.checked == lastCheck)
    _ = try await checks(store, Backend(accepting: [])).checkStored(try store.all(), recording: .unlessUnchangedWithin(3600))
    #expect(try store.current(account: "a").credential.checkResult == "rejected", "a changed verdict is written")
  }
}

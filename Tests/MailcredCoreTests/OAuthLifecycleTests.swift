import Foundation
import Testing
@testable import MailcredCore
import MailcredSpelling

/// Token-endpoint errors as the providers send them (literal bodies), and the grant's refresh clock.
@Suite struct TokenEndpointProblemTests {
  func failure(_ status: Int, _ body: String) -> OAuthFailure {
    switch Result(catching: { () throws(OAuthFailure) in try parseTokenAnswer(HTTPAnswer(status: status, body: SecretBytes(taking: Array(body.utf8)))) }) {
    case .success: Issue.record("a grant from \(body)"); return .malformed("")
    case .failure(let failure): return failure
    }
  }

  static func microsoft(_ error: String, _ code: Int, _ text: String) -> String {
    #"{"error":"\#(error)","error_description":"AADSTS\#(code): \#(text) Trace ID: 8f1c Correlation ID: 2b7e Timestamp: 2026-01-01 00:00:00Z","error_codes":[\#(code)],"timestamp":"2026-01-01 00:00:00Z","trace_id":"8f1c","correlation_id":"2b7e","error_uri":"https://login.microsoftonline.com/error?code=\#(code)"}"#
  }

  static let cases: [(String, Int, String, TokenEndpointProblem, String?, String)] = [
    (microsoft("invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on 2025-09-01T00:00:00Z and was inactive for 90.00:00:00."),
     400, "AADSTS700082", .expiredByInactivity, "AADSTS700082", "90 days without use"),
    (microsoft("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed."),
     400, "AADSTS50173", .revoked, "AADSTS50173", "password change"),
    (microsoft("invalid_grant", 70043, "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access."),
     400, "AADSTS70043", .revoked, "AADSTS70043", "sign-in frequency"),
    (microsoft("invalid_grant", 65001, "The user or administrator has not consented to use the application with ID 'x'."),
     400, "AADSTS65001", .consentRequired, "AADSTS65001", "admin consent"),
    (microsoft("invalid_grant", 50076, "Due to a configuration change made by your administrator, you must use multi-factor authentication."),
     400, "AADSTS50076", .mfaRequired, "AADSTS50076", "multi-factor"),
    (microsoft("invalid_grant", 50079, "Due to a configuration change made by your administrator, you must enroll in multi-factor authentication."),
     400, "AADSTS50079", .mfaRequired, "AADSTS50079", "enrollment"),
    (microsoft("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
     401, "AADSTS7000218", .notPublicClient, "AADSTS7000218", "Allow public client flows"),
    (microsoft("unauthorized_client", 700016, "Application with identifier 'x' was not found in the directory 'y'."),
     400, "AADSTS700016", .unknownClient, "AADSTS700016", "not registered in this tenant"),
    (#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#,
     400, "google invalid_grant", .invalidGrant, nil, "Testing mode"),
    (#"{"error": "unauthorized_client", "error_description": "Unauthorized"}"#,
     401, "google unauthorized_client", .unauthorizedClient, nil, "does not belong to this client"),
    (#"{"error":"temporarily_unavailable"}"#, 503, "temporarily_unavailable", .providerTrouble, nil, "try again later"),
  ]

  @Test(arguments: cases)
  func eachProviderErrorIsClassifiedAndHinted(body: String, status: Int, name: String, problem: TokenEndpointProblem, code: String?, phrase: String) throws {
    let failure = failure(status, body)
    let classified = try #require(TokenEndpointProblem.classify(failure), "\(name)")
    #expect(classified.problem == problem, "\(name)")
    #expect(classified.aadsts == code, "\(name)")
    let expectedStatus: MailcredCore.ExitStatus = problem == .providerTrouble ? .temporaryFailure : .authenticationRejected
    #expect(failure.exitStatus == expectedStatus, "\(name): exit \(failure.exitStatus)")
    #expect(problem.exitStatus == expectedStatus)
    let advice = problem.hint(account: "work", code: classified.aadsts)
    let hint = advice.text
    #expect(hint.contains(phrase), "\(name): \(hint)")
    if let code { #expect(hint.contains(code)) }
    if problem != .providerTrouble {
      #expect(hint.contains("mailcred authorize work"), "\(name): \(hint)")
      #expect(advice.commands.first == .authorize("work") || advice.commands.first == .authorize("work", .clientSecretStdin), "\(name)")
    }

    // get and the git helper say it the same way; check and audit find it again in the result's detail.
    #expect(failure.message(account: "work").text.contains(hint))
    let detail = OAuthCheck.tokenEndpointPrefix + failure.detail
    let again = try #require(TokenEndpointProblem.classify(detail: detail))
    #expect(again.problem == problem && again.aadsts == code)
    let result = CheckResult(endpoint: Endpoint(proto: .smtp, host: "smtp.example", port: 587, security: .starttls),
      verdict: failure.verdict, detail: detail, latency: 0.1)
    #expect(MailcredCore.hint(for: result, provider: nil, account: "work", kind: .oauth2).text == hint)
  }

  @Test func anUnknownAADSTSCodeKeepsTheGenericInvalidGrantHintAndCode() throws {
    let redeemed = failure(400, Self.microsoft("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed."))
    let classified = try #require(TokenEndpointProblem.classify(redeemed))
    #expect(classified.problem == .invalidGrant && classified.aadsts == "AADSTS54005")
    #expect(TokenEndpointProblem.classify(failure(400, #"{"error":"invalid_scope"}"#)) == nil)
    #expect(TokenEndpointProblem.aadstsCode(in: "no code AADSTS here, then AADSTS12 x") == "12")
  }
}

@Suite struct OAuthGrantAgeTests {
  let now = Date(timeIntervalSince1970: 1_800_000_000)
  let settings = OAuthSettings(clientID: "c", tokenEndpoint: "https://idp.example/token", scopes: ["mail"])

  func grant(provider: String?, idleDays: Double, refreshed: Bool = true, endpoint: String? = nil) -> Credential {
    var oauth = settings
    if let endpoint { oauth.tokenEndpoint = endpoint }
    let last = now.addingTimeInterval(-idleDays * 86400)
    return Credential(account: "ms", kind: .oauth2, user: "me@example.org", provider: provider,
      created: refreshed ? now.addingTimeInterval(-400 * 86400) : last, oauth: oauth, refreshed: refreshed ? last : nil)
  }

  @Test(arguments: [
    ("office365", 85.0, true, 85), ("outlook.com", 81.5, true, 81), ("office365", 80.0, true, nil), ("gmail", 85.0, true, nil),
    (nil, 85.0, true, nil), ("office365", 85.0, false, 85), ("office365", 95.0, true, 95),
  ] as [(String?, Double, Bool, Int?)])
  func microsoftGrantsIdlePastEightyDaysWarn(provider: String?, idle: Double, refreshed: Bool, days: Int?) {
    let credential = grant(provider: provider, idleDays: idle, refreshed: refreshed)
    #expect(OAuthGrantAge.idleDays(credential, now: now) == days)
    let advice = OAuthGrantAge.warning(credential, now: now)
    #expect((advice != nil) == (days != nil))
    if let advice {
      #expect(advice.commands.prefix(advice.commands.count - 2).allSatisfy { $0 == .authorize("ms") })
      #expect(advice.commands.suffix(2) == [.check("ms"), .get("ms")])
    }
    let warning = advice?.text
    if let warning {
      #expect(warning.contains("mailcred check ms") && warning.contains("mailcred get ms"), "\(warning)")
      #expect(warning.contains("\(days!) days"))
      if days! >= 90 { #expect(warning.contains("probably expired") && warning.contains("mailcred authorize ms")) }
    }
  }

  @Test func microsoftsTokenEndpointCountsWithoutAPreset() {
    #expect(OAuthGrantAge.isMicrosoft(grant(provider: nil, idleDays: 1, endpoint: "https://login.microsoftonline.com/common/oauth2/v2.0/token")))
    #expect(!OAuthGrantAge.isMicrosoft(grant(provider: nil, idleDays: 1, endpoint: "https://oauth2.googleapis.com/token")))
    let password = Credential(account: "p", kind: .password, user: "u", provider: "office365", created: now)
    #expect(!OAuthGrantAge.isMicrosoft(password) && OAuthGrantAge.lastRefresh(password) == nil)
  }

  @Test func theRefreshTimeIsAnAttributeThatRoundTrips() throws {
    let credential = grant(provider: "office365", idleDays: 3)
    #expect(credential.attributes["refreshed"] == RFC3339.format(credential.refreshed!))
    try SchemaAttribute.validate(credential.attributes)
    #expect(Credential(attributes: credential.attributes)?.refreshed == credential.refreshed)
  }

  @Test func aRefreshRecordsItsTimeWithTheNewTokenAndACheckResultStillLands() throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    let credential = grant(provider: "office365", idleDays: 85)
    let payload = OAuthPayload(refreshToken: SecretBytes(taking: Array("rt-old".utf8)))
    try store.add(credential, secret: payload.encoded(), replace: false)
    let before = try store.current(account: "ms")
    let endpoint = FakeTokenEndpoint([FakeTokenEndpoint.grant(#"{"access_token":"at-new","expires_in":3600}"#)])
    let time = now
    let refresher = OAuthRefresher(store: store, transport: endpoint, now: { time })
    let token = try refresher.accessToken(account: "ms", force: true)
    #expect(token.refreshed && token.refreshedAt == now)
    let after = try store.current(account: "ms")
    #expect(try store.entries(account: "ms").count == 1, "one write: the new item replaced the old one")
    #expect(after.credential.refreshed == now)
    #expect(OAuthGrantAge.warning(after.credential, now: now) == nil)
    // A check that read the entry before the refresh records its result on the same grant's new item.
    var checked = before.credential
    checked.checked = now
    checked.checkResult = "ok"
    #expect(try store.record(before, as: checked))
    let recorded = try store.current(account: "ms").credential
    #expect(recorded.checkResult == "ok" && recorded.checked == now && recorded.refreshed == now)
  }
}

import Foundation
import Synchronization
import Testing
@testable import MailcredCore
import MailcredSpelling

@Suite struct OAuthJSONTests {
  func parse(_ text: String) throws -> OAuthJSON { try OAuthJSON(parsing: Array(text.utf8)) }

  @Test func aMicrosoftTokenAnswer() throws {
    let json = try parse("""
      {"token_type":"Bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send",\
      "expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAi.x\\/y","refresh_token":"M.C5_BAY.-Cx!"}
      """)
    #expect(json.text("token_type") == "Bearer")
    #expect(json.integer("expires_in") == 3599)
    #expect(json.secret("access_token")?.bytes == Array("eyJ0eXAi.x/y".utf8))
    #expect(json.secret("refresh_token")?.bytes == Array("M.C5_BAY.-Cx!".utf8))
  }

  @Test func nestedValuesAreSkippedAndEscapesDecoded() throws {
    let json = try parse(#" { "a" : [1, {"b": [true, null]}], "s": "tab\there \u00e9 \ud83d\ude00", "n": -1.5e2, "q": "3600" } "#)
    #expect(json["a"] == .nested)
    #expect(json.text("s") == "tab\there é 😀")
    #expect(json.integer("n") == -150)
    #expect(json.integer("q") == 3600, "some servers quote expires_in")
  }

  @Test(arguments: ["", "[]", "{", #"{"a":}"#, #"{"a":1,}"#, #"{"a":"x"} x"#, #"{"a":"\q"}"#, "{\"a\":\"\u{1}\"}",
    String(repeating: "[", count: 40) + String(repeating: "]", count: 40)])
  func malformedAnswersAreRefused(text: String) {
    let wrapped = text.hasPrefix("[[") ? #"{"deep":"# + text + "}" : text
    #expect(throws: OAuthJSON.SyntaxError.self) { try parse(wrapped) }
  }

  @Test func wipeZeroesStringValues() throws {
    var json = try parse(#"{"access_token":"secret-token"}"#)
    json.wipe()
    #expect(json["access_token"] == nil)
  }
}

@Suite struct OAuthPayloadTests {
  func bytes(_ text: String) -> SecretBytes { SecretBytes(taking: Array(text.utf8)) }

  @Test func roundTripsAndIsRecognisedByItsFirstLine() throws {
    let payload = OAuthPayload(
      refreshToken: bytes("rt-1"), accessToken: bytes("at 1"), accessExpires: Date(timeIntervalSince1970: 1_800_000_000),
      clientSecret: bytes("cs"))
    let encoded = payload.encoded()
    #expect(String(decoding: encoded.bytes, as: UTF8.self)
      == "mailcred-oauth2 1\nrefresh_token=rt-1\naccess_token=at 1\nclient_secret=cs\naccess_expires=1800000000\n")
    #expect(OAuthPayload.isPayload(encoded))
    let back = try OAuthPayload(parsing: encoded)
    #expect(back.refreshToken.bytes == Array("rt-1".utf8))
    #expect(back.accessToken?.bytes == Array("at 1".utf8))
    #expect(back.clientSecret?.bytes == Array("cs".utf8))
    #expect(back.accessExpires == Date(timeIntervalSince1970: 1_800_000_000))
  }

  @Test(arguments: ["mailcred-oauth2 1", "hunter2", "mailcred-oauth2 1 with spaces", ""])
  func passwordsAreNeverTakenForAPayload(secret: String) {
    // A password is one line: it cannot hold the header's LF.
    #expect(!OAuthPayload.isPayload(bytes(secret)))
  }

  @Test func unknownKeysAreIgnoredAndAMissingRefreshTokenIsDamage() throws {
    let future = try OAuthPayload(parsing: bytes("mailcred-oauth2 1\nrefresh_token=r\nid_token=x\n"))
    #expect(future.accessToken == nil)
    #expect(throws: OAuthPayload.FormatError.self) { try OAuthPayload(parsing: bytes("mailcred-oauth2 1\naccess_token=a\n")) }
    #expect(throws: OAuthPayload.FormatError.self) { try OAuthPayload(parsing: bytes("mailcred-oauth2 1\nrefresh_token=r\naccess_expires=soon\n")) }
  }

  @Test(arguments: [(301.0, true), (299.0, false), (-5.0, false)])
  func theAccessTokenCountsOnlyWithFiveMinutesLeft(secondsLeft: Double, usable: Bool) {
    let now = Date(timeIntervalSince1970: 1_000_000)
    let payload = OAuthPayload(refreshToken: bytes("r"), accessToken: bytes("a"), accessExpires: now.addingTimeInterval(secondsLeft))
    #expect((payload.accessToken(validAt: now) != nil) == usable)
  }

  @Test func tokensMustBeVisibleASCII() {
    #expect(OAuthPayload.isStorable(bytes("ya29.a0-_~+/= x")))
    #expect(!OAuthPayload.isStorable(bytes("a\nb")))
    #expect(!OAuthPayload.isStorable(bytes("")))
  }
}

@Suite struct OAuthHTTPTests {
  @Test func formBodiesArePercentEncoded() {
    let body = formBody([("grant_type", .text("refresh_token")), ("refresh_token", .secret(SecretBytes(taking: Array("M.a/b+c=d&e f~".utf8))))])
    #expect(String(decoding: body.bytes, as: UTF8.self) == "grant_type=refresh_token&refresh_token=M.a%2Fb%2Bc%3Dd%26e%20f~")
    #expect(body.bytes.capacity >= body.count)
  }

  @Test func queriesAreDecoded() {
    let fields = parseQuery(Array("code=M.C%2Fx&state=abc&error_description=a+b%20c&flag".utf8))
    #expect(fields.map(\.key) == ["code", "state", "error_description", "flag"])
    #expect(fields[0].value == Array("M.C/x".utf8))
    #expect(fields[2].value == Array("a b c".utf8))
  }

  @Test(arguments: [
    ("https://login.microsoftonline.com/common/oauth2/v2.0/token", "login.microsoftonline.com", 443, "/common/oauth2/v2.0/token"),
    ("https://127.0.0.1:8443/token?x=1", "127.0.0.1", 8443, "/token?x=1"),
    ("https://[::1]:9/", "::1", 9, "/"),
    ("HTTPS://idp.example", "idp.example", 443, "/"),
  ])
  func endpointURLs(text: String, host: String, port: Int, target: String) throws {
    let url = try HTTPSURL(parsing: text)
    #expect(url.host == host && url.port == port && url.target == target)
  }

  @Test(arguments: ["http://idp.example/token", "https://user@idp.example/", "https://idp.example/a b", "https://idp.example/#x", "https://"])
  func unsafeEndpointURLsAreRefused(text: String) {
    #expect(throws: InputError.self) { try HTTPSURL(parsing: text) }
  }

  @Test func base64URLHasNoPadding() {
    #expect(base64URL([0xfb, 0xff]) == "-_8")
  }
}

@Suite struct TokenAnswerTests {
  func answer(_ status: Int, _ body: String) -> HTTPAnswer { HTTPAnswer(status: status, body: SecretBytes(taking: Array(body.utf8))) }

  @Test func aGrant() throws {
    let grant = try parseTokenAnswer(answer(200, #"{"access_token":"a","token_type":"bearer","expires_in":"60","refresh_token":"r"}"#))
    #expect(grant.accessToken.bytes == [UInt8(ascii: "a")])
    #expect(grant.refreshToken?.bytes == [UInt8(ascii: "r")])
    #expect(grant.expiresIn == 60)
  }

  @Test(arguments: [
    (400, #"{"error":"invalid_grant","error_description":"AADSTS70008: The refresh token has expired"}"#, CheckClass.rejected, "invalid_grant: AADSTS70008: The refresh token has expired"),
    (401, #"{"error":"invalid_client"}"#, .rejected, "invalid_client"),
    (503, "<html>down</html>", .temporary, "HTTP 503 from the token endpoint"),
    (400, #"{"error":"temporarily_unavailable"}"#, .temporary, "temporarily_unavailable"),
    (200, #"{"access_token":"a","token_type":"mac"}"#, .protocolError, "the token endpoint issued a 'mac' token; mail servers take Bearer tokens"),
    (200, #"{"token_type":"Bearer"}"#, .protocolError, "the token endpoint's answer has no access_token"),
    (302, "", .protocolError, "the token endpoint answered HTTP 302 without JSON (malformed JSON at byte 0: expected an object)"),
  ])
  func failures(status: Int, body: String, verdict: CheckClass, text: String) {
    guard case .failure(let failure) = Result(catching: { () throws(OAuthFailure) in try parseTokenAnswer(answer(status, body)) }) else {
      Issue.record("expected a failure")
      return
    }
    #expect(failure.verdict == verdict)
    #expect(failure.detail == text)
  }
}

@Suite struct DevicePollingTests {
  let grant = TokenGrant(accessToken: SecretBytes(taking: [1]), refreshToken: nil, expiresIn: nil, scope: nil)

  @Test func pendingKeepsTheIntervalAndSlowDownAddsFiveSeconds() {
    var polling = DevicePolling(interval: 5, expiresAt: 100)
    guard case .pollAgain = polling.next(after: .failure(.refused(error: "authorization_pending", description: nil)), now: 10) else {
      Issue.record("pending must poll again")
      return
    }
    #expect(polling.interval == 5)
    guard case .pollAgain = polling.next(after: .failure(.refused(error: "slow_down", description: nil)), now: 15) else {
      Issue.record("slow_down must poll again")
      return
    }
    #expect(polling.interval == 10)
    guard case .granted = polling.next(after: .success(grant), now: 25) else {
      Issue.record("a grant ends the polling")
      return
    }
  }

  @Test(arguments: ["access_denied", "expired_token", "invalid_client"])
  func refusalsEndThePolling(error: String) {
    var polling = DevicePolling(interval: 5, expiresAt: 100)
    guard case .failed(let failure) = polling.next(after: .failure(.refused(error: error, description: nil)), now: 10) else {
      Issue.record("\(error) must end the polling")
      return
    }
    #expect(failure.verdict == .rejected)
  }

  @Test func theCodesExpiryEndsThePolling() {
    var polling = DevicePolling(interval: 5, expiresAt: 100)
    guard case .failed = polling.next(after: .failure(.refused(error: "authorization_pending", description: nil)), now: 96) else {
      Issue.record("an expired device code must end the polling")
      return
    }
  }

  @Test func aNetworkHiccupIsRetried() {
    var polling = DevicePolling(interval: 5, expiresAt: 100)
    let failure = OAuthFailure.transport(TransportFailure(verdict: .timeout, detail: "x"))
    guard case .pollAgain = polling.next(after: .failure(failure), now: 10) else {
      Issue.record("a timeout must poll again")
      return
    }
  }
}

/// A token endpoint in memory: records every form, answers from a script.
final class FakeTokenEndpoint: OAuthTransport, @unchecked Sendable {
  private let lock = NSLock()
  private var answers: [Result<HTTPAnswer, TransportFailure>]
  private(set) var forms: [String] = []

  init(_ answers: [Result<HTTPAnswer, TransportFailure>]) { self.answers = answers }

  static func grant(_ json: String, status: Int = 200) -> Result<HTTPAnswer, TransportFailure> {
    .success(HTTPAnswer(status: status, body: SecretBytes(taking: Array(json.utf8))))
  }

  func post(_ url: HTTPSURL, form: SecretBytes, caFile: String?) throws(TransportFailure) -> HTTPAnswer {
    try answer(url, form: form).get()
  }

  private func answer(_ url: HTTPSURL, form: SecretBytes) -> Result<HTTPAnswer, TransportFailure> {
    lock.lock()
    defer { lock.unlock() }
    forms.append(String(decoding: form.bytes, as: UTF8.self))
    return answers.isEmpty ? .failure(TransportFailure(verdict: .refused, detail: "no more answers")) : answers.removeFirst()
  }

  var requests: [String] {
    lock.lock()
    defer { lock.unlock() }
    return forms
  }
}

@Suite struct OAuthClientTests {
  let settings = OAuthSettings(
    clientID: "client 1", tokenEndpoint: "https://idp.example/token", scopes: ["mail", "offline_access"],
    authorizationEndpoint: "https://idp.example/authorize?tenant=x")

  @Test func theAuthorizationURLCarriesPKCEStateAndTheLoopbackRedirect() throws {
    let client = OAuthClient(transport: FakeTokenEndpoint([]), settings: settings)
    let url = try client.authorizationURL(
      redirectURI: "http://127.0.0.1:5000/", state: "st", codeChallenge: "ch", loginHint: "me@example.org",
      extra: ["prompt": "consent", "access_type": "offline"])
    #expect(url == "https://idp.example/authorize?tenant=x&response_type=code&client_id=client%201"
      + "&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2F&scope=mail%20offline_access&state=st&code_challenge=ch"
      + "&code_challenge_method=S256&login_hint=me%40example.org&access_type=offline&prompt=consent")
  }

  @Test func theRedirectMustCarryOurState() throws {
    let fields: [(key: String, value: [UInt8])] = [("code", Array("c0de".utf8)), ("state", Array("other".utf8))]
    guard case .failure(.authorization) = Result(catching: { () throws(OAuthFailure) in try OAuthClient.authorizationCode(fromRedirect: fields, state: "mine") }) else {
      Issue.record("a foreign state must be refused")
      return
    }
    let ours: [(key: String, value: [UInt8])] = [("code", Array("c0de".utf8)), ("state", Array("mine".utf8))]
    #expect(try OAuthClient.authorizationCode(fromRedirect: ours, state: "mine").bytes == Array("c0de".utf8))
    let denied: [(key: String, value: [UInt8])] = [("error", Array("access_denied".utf8)), ("state", Array("mine".utf8))]
    guard case .failure(.refused("access_denied", _)) = Result(catching: { () throws(OAuthFailure) in try OAuthClient.authorizationCode(fromRedirect: denied, state: "mine") }) else {
      Issue.record("an error redirect is a refusal")
      return
    }
  }

  @Test func theCodeExchangeSendsTheVerifier() throws {
    let endpoint = FakeTokenEndpoint([FakeTokenEndpoint.grant(#"{"access_token":"a","refresh_token":"r","expires_in":3600}"#)])
    let client = OAuthClient(transport: endpoint, settings: settings, clientSecret: SecretBytes(taking: Array("s3".utf8)))
    _ = try client.exchange(
      code: SecretBytes(taking: Array("c".utf8)), redirectURI: "http://127.0.0.1:5000/",
      codeVerifier: SecretBytes(taking: Array("v".utf8)))
    #expect(endpoint.requests == [
      "grant_type=authorization_code&code=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2F&client_id=client%201&code_verifier=v&client_secret=s3"
    ])
  }

  @Test func deviceApprovalPollsUntilGranted() throws {
    let endpoint = FakeTokenEndpoint([
      FakeTokenEndpoint.grant(#"{"error":"authorization_pending"}"#, status: 400),
      FakeTokenEndpoint.grant(#"{"error":"slow_down"}"#, status: 400),
      FakeTokenEndpoint.grant(#"{"access_token":"a","refresh_token":"r"}"#),
    ])
    let client = OAuthClient(transport: endpoint, settings: settings)
    let device = DeviceAuthorization(
      deviceCode: SecretBytes(taking: Array("dc".utf8)), userCode: "ABCD", verificationURI: "https://idp.example/device",
      verificationURIComplete: nil, expiresIn: 900, interval: 5, message: nil)
    var slept: [Double] = []
    var clock = 0.0
    let grant = try client.waitForDeviceApproval(device, sleep: { slept.append($0); clock += $0 }, clock: { clock })
    #expect(grant.accessToken.bytes == [UInt8(ascii: "a")])
    #expect(slept == [5, 5, 10])
    #expect(endpoint.requests.allSatisfy { $0.hasPrefix("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=dc&") })
  }

  @Test func googlesDeviceAnswerSaysVerificationURL() throws {
    let answer = HTTPAnswer(status: 200, body: SecretBytes(taking: Array(#"{"device_code":"d","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}"#.utf8)))
    let device = try DeviceAuthorization.parse(answer)
    #expect(device.verificationURI == "https://www.google.com/device")
    #expect(device.userCode == "GQVQ-JKEC")
    #expect(device.interval == 5 && device.expiresIn == 1800)
  }
}

@Suite struct OAuthRefresherTests {
  let settings = OAuthSettings(clientID: "cid", tokenEndpoint: "https://idp.example/token", scopes: ["mail"])
  let start = Date(timeIntervalSince1970: 1_800_000_000)

  final class Locks: @unchecked Sendable {
    let count = Mutex(0)
  }

  func store(access: String?, expiresIn seconds: Double) throws -> CredentialStore {
    let store = CredentialStore(keyring: InMemoryKeyring())
    let credential = Credential(account: "work", kind: .oauth2, user: "me@example.org", created: start, oauth: settings)
    let payload = OAuthPayload(
      refreshToken: SecretBytes(taking: Array("rt-old".utf8)), accessToken: access.map { SecretBytes(taking: Array($0.utf8)) },
      accessExpires: start.addingTimeInterval(seconds))
    try store.add(credential, secret: payload.encoded(), replace: false)
    return store
  }

  func refresher(_ store: CredentialStore, _ endpoint: FakeTokenEndpoint, locks: Locks = Locks()) -> OAuthRefresher {
    let start = self.start
    let counted = CredentialStore(
      keyring: store.keyring,
      locker: AccountLocker { _ in
        locks.count.withLock { $0 += 1 }
        return {}
      })
    return OAuthRefresher(store: counted, transport: endpoint, now: { start })
  }

  func storedPayload(_ store: CredentialStore) throws -> OAuthPayload {
    try OAuthPayload(parsing: try store.secret(account: "work"))
  }

  @Test func aFreshTokenIsReturnedWithoutLockOrRequest() throws {
    let store = try store(access: "at-fresh", expiresIn: 600)
    let endpoint = FakeTokenEndpoint([])
    let locks = Locks()
    let stored = try store.secret(account: "work")
    let token = try refresher(store, endpoint, locks: locks).accessToken(account: "work", stored: stored)
    #expect(token.accessToken.bytes == Array("at-fresh".utf8))
    #expect(!token.refreshed)
    #expect(endpoint.requests.isEmpty)
    #expect(locks.count.withLock { $0 } == 0)
  }

  @Test func anExpiringTokenIsRefreshedAndTheRotatedRefreshTokenStored() throws {
    let store = try store(access: "at-old", expiresIn: 200)
    let endpoint = FakeTokenEndpoint([FakeTokenEndpoint.grant(#"{"access_token":"at-new","refresh_token":"rt-new","expires_in":3600,"token_type":"Bearer"}"#)])
    let token = try refresher(store, endpoint).accessToken(account: "work", stored: try store.secret(account: "work"))
    #expect(token.accessToken.bytes == Array("at-new".utf8))
    #expect(token.refreshed && token.warning == nil)
    #expect(endpoint.requests == ["grant_type=refresh_token&refresh_token=rt-old&client_id=cid"])
    let payload = try storedPayload(store)
    #expect(payload.refreshToken.bytes == Array("rt-new".utf8))
    #expect(payload.accessToken?.bytes == Array("at-new".utf8))
    #expect(payload.accessExpires == start.addingTimeInterval(3600))
    #expect(try store.entries(account: "work").count == 1)
  }

  @Test func withoutARotatedRefreshTokenTheOldOneIsKept() throws {
    let store = try store(access: nil, expiresIn: 0)
    let endpoint = FakeTokenEndpoint([FakeTokenEndpoint.grant(#"{"access_token":"at-new","expires_in":60}"#)])
    _ = try refresher(store, endpoint).accessToken(account: "work")
    #expect(try storedPayload(store).refreshToken.bytes == Array("rt-old".utf8))
  }

  @Test func aRevokedGrantIsARejection() throws {
    let store = try store(access: "at-old", expiresIn: 100)
    let endpoint = FakeTokenEndpoint([FakeTokenEndpoint.grant(#"{"error":"invalid_grant","error_description":"revoked"}"#, status: 400)])
    guard case .failure(let failure) = Result(catching: { () throws(OAuthFailure) in try refresher(store, endpoint).accessToken(account: "work") }) else {
      Issue.record("expected invalid_grant")
      return
    }
    #expect(failure.verdict == .rejected)
    #expect(failure.exitStatus == .authenticationRejected)
    #expect(failure.message(account: "work").text.contains("`mailcred authorize work`"))
    // Nothing was written: the grant stays for the user to see and replace.
    #expect(try storedPayload(store).refreshToken.bytes == Array("rt-old".utf8))
  }

  @Test func anUnreachableEndpointFallsBackToTheStillValidToken() throws {
    let store = try store(access: "at-old", expiresIn: 120)
    let endpoint = FakeTokenEndpoint([.failure(TransportFailure(verdict: .timeout, detail: "no answer"))])
    let token = try refresher(store, endpoint).accessToken(account: "work")
    #expect(token.accessToken.bytes == Array("at-old".utf8))
    #expect(token.warning?.text.contains("valid for 120 more seconds") == true)
  }

  @Test func forceRefreshesEvenAFreshToken() throws {
    let store = try store(access: "at-fresh", expiresIn: 3000)
    let endpoint = FakeTokenEndpoint([FakeTokenEndpoint.grant(#"{"access_token":"at-new","expires_in":3600}"#)])
    let token = try refresher(store, endpoint).accessToken(account: "work", force: true)
    #expect(token.refreshed)
  }

  @Test func anotherProcessesRefreshSeenAfterTheLockIsUsed() throws {
    // The caller read a stale payload; by the time it holds the lock the keyring has a fresh one.
    let store = try store(access: "at-new", expiresIn: 3000)
    let stale = OAuthPayload(refreshToken: SecretBytes(taking: Array("rt-old".utf8)), accessToken: SecretBytes(taking: Array("at-old".utf8)), accessExpires: start)
    let endpoint = FakeTokenEndpoint([])
    let token = try refresher(store, endpoint).accessToken(account: "work", stored: stale.encoded())
    #expect(token.accessToken.bytes == Array("at-new".utf8))
    #expect(endpoint.requests.isEmpty)
  }
}

@Suite struct OAuthCredentialTests {
  let settings = OAuthSettings(
    clientID: "cid", tokenEndpoint: "https://idp.example/token", scopes: ["a", "b"],
    authorizationEndpoint: "https://idp.example/auth", caFile: "/etc/idp.pem")

  @Test func attributesRoundTripAndMsmtpsLookupAttributeIsLeftOut() throws {
    let credential = Credential(
      account: "work", kind: .oauth2, user: "me@example.org",
      smtp: Endpoint(proto: .smtp, host: "smtp.example.org", port: 587, security: .starttls),
      created: Date(timeIntervalSince1970: 1_800_000_000), oauth: settings)
    let attributes = credential.attributes
    #expect(attributes["service"] == nil, "msmtp must not find an oauth2 payload as a password")
    #expect(attributes["host"] == "smtp.example.org")
    #expect(attributes["client-id"] == "cid" && attributes["scopes"] == "a b" && attributes["ca-file"] == "/etc/idp.pem")
    try SchemaAttribute.validate(attributes)
    #expect(Credential(attributes: attributes) == credential)
  }

  @Test func hintsNameAuthorize() {
    let endpoint = Endpoint(proto: .smtp, host: "smtp.example.org", port: 587, security: .starttls)
    let revoked = CheckResult(endpoint: endpoint, verdict: .rejected, detail: OAuthCheck.tokenEndpointPrefix + "invalid_grant", latency: 0)
    #expect(hint(for: revoked, provider: nil, account: "work", kind: .oauth2).text.contains("`mailcred authorize work`"))
    let refused = CheckResult(endpoint: endpoint, verdict: .rejected, detail: "535 5.7.8", latency: 0)
    #expect(hint(for: refused, provider: nil, account: "work", kind: .oauth2).text.contains("refused the access token"))
    let basic = CheckResult(endpoint: endpoint, verdict: .basicAuthDisabled, detail: "535 5.7.139", latency: 0)
    #expect(hint(for: basic, provider: Provider.named("outlook.com"), account: "hotmail").text
      .contains("`mailcred authorize hotmail --provider outlook.com --client-id YOUR-CLIENT-ID`"))
  }

  @Test func theGitHelperAnswersBearerOnlyWhenGitAnnouncesAuthtype() throws {
    let store = CredentialStore(keyring: InMemoryKeyring())
    let credential = Credential(
      account: "work", kind: .oauth2, user: "me@example.org",
      smtp: Endpoint(proto: .smtp, host: "smtp.example.org", port: 587, security: .starttls),
      created: Date(timeIntervalSince1970: 1_800_000_000), oauth: settings)
    try store.add(credential, secret: OAuthPayload(refreshToken: SecretBytes(taking: Array("r".utf8))).encoded(), replace: false)
    var helper = GitCredentialHelper(store: store)
    helper.bearerToken = { _ in SecretBytes(taking: Array("at".utf8)) }
    let request = try GitCredentialMessage.parse(Array("protocol=smtp\nhost=smtp.example.org\n\n".utf8))
    let (plain, token) = try #require(try helper.get(request))
    #expect(plain["authtype"] == nil && plain.username == "me@example.org")
    #expect(token.bytes == Array("at".utf8))
    let announced = try GitCredentialMessage.parse(Array("capability[]=authtype\nprotocol=smtp\nhost=smtp.example.org\n\n".utf8))
    let (bearer, _) = try #require(try helper.get(announced))
    #expect(bearer["authtype"] == "Bearer" && bearer["ephemeral"] == "1")
    // store and erase leave the grant alone
    let back = try GitCredentialMessage.parse(Array("protocol=smtp\nhost=smtp.example.org\nusername=me@example.org\npassword=at\n\n".utf8))
    #expect(try helper.store(back, now: Date()) == .unchanged("work"))
    #expect(try helper.erase(back).isEmpty)
    #expect(OAuthPayload.isPayload(try store.secret(account: "work")))
  }
}

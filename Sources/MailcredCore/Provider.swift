/// A mail provider's servers and policies (DESIGN.md "Provider presets", gathered from provider
/// documentation and Thunderbird's ISPDB).
public struct Provider: Sendable, Equatable {
  public var id: String
  public var name: String
  public var smtp: Endpoint
  public var imap: Endpoint
  /// Whether the provider issues app passwords (and whether they are required for third-party clients).
  public var appPasswords: AppPasswordPolicy
  /// Where a user creates an app password.
  public var appPasswordPage: String?
  /// Which kind `add` assumes when the user names none.
  public var defaultKind: CredentialKind
  /// How long a new secret is considered valid when the user gives no expiry (nil: no expiry).
  public var defaultLifetime: Duration?
  /// Policy facts a user must hear when adding a credential for this provider.
  public var notes: [Advice]
  /// Basic authentication (password or app password) no longer works: only OAuth2 does.
  public var basicAuthDisabled: Bool
  /// The submission port the provider recommends, when 465 is a worse choice.
  public var prefersStartTLS: Bool

  public enum AppPasswordPolicy: String, Sendable { case required, optional, none }
}

extension Provider {
  public static func named(_ id: String) -> Provider? {
    all.first { $0.id == id.lowercased() }
  }

  public static let all: [Provider] = [
    Provider(
      id: "outlook.com", name: "Outlook.com (Microsoft personal accounts)",
      smtp: .init(proto: .smtp, host: "smtp-mail.outlook.com", port: 587, security: .starttls),
      imap: .init(proto: .imap, host: "outlook.office365.com", port: 993, security: .tls),
      appPasswords: .optional,
      appPasswordPage: "https://account.live.com/proofs/AppPassword",
      defaultKind: .appPassword, defaultLifetime: nil,
      notes: [
        "Microsoft ended basic authentication for third-party SMTP/IMAP on Outlook.com on 16 Sept 2024; "
          + "passwords and app passwords are rejected with 535 5.7.139 — OAuth2 (XOAUTH2) is required."
      ],
      basicAuthDisabled: true, prefersStartTLS: true),
    Provider(
      id: "office365", name: "Microsoft 365 / Exchange Online",
      smtp: .init(proto: .smtp, host: "smtp.office365.com", port: 587, security: .starttls),
      imap: .init(proto: .imap, host: "outlook.office365.com", port: 993, security: .tls),
      appPasswords: .none, appPasswordPage: nil, defaultKind: .password, defaultLifetime: nil,
      notes: [
        "Tenants can disable SMTP AUTH (\"SmtpClientAuthentication is disabled for the Tenant\"); Exchange "
          + "Online turns basic SMTP AUTH off by default for existing tenants at the end of December 2026 "
          + "(then 550 5.7.30): plan for OAuth2."
      ],
      basicAuthDisabled: false, prefersStartTLS: true),
    Provider(
      id: "gmail", name: "Gmail / Google Workspace",
      smtp: .init(proto: .smtp, host: "smtp.gmail.com", port: 587, security: .starttls),
      imap: .init(proto: .imap, host: "imap.gmail.com", port: 993, security: .tls),
      appPasswords: .required, appPasswordPage: "https://myaccount.google.com/apppasswords",
      defaultKind: .appPassword, defaultLifetime: nil,
      notes: [
        "Gmail app passwords need 2-Step Verification and are revoked when the account password changes; "
          + "534 5.7.9 means an app password is required."
      ],
      basicAuthDisabled: false, prefersStartTLS: false),
    Provider(
      id: "yahoo", name: "Yahoo Mail",
      smtp: .init(proto: .smtp, host: "smtp.mail.yahoo.com", port: 465, security: .tls),
      imap: .init(proto: .imap, host: "imap.mail.yahoo.com", port: 993, security: .tls),
      appPasswords: .required,
      appPasswordPage: "https://login.yahoo.com/account/security (Generate app password)",
      defaultKind: .appPassword, defaultLifetime: nil,
      notes: ["Yahoo app passwords survive a change of the account password."],
      basicAuthDisabled: false, prefersStartTLS: false),
    Provider(
      id: "icloud", name: "iCloud Mail",
      smtp: .init(proto: .smtp, host: "smtp.mail.me.com", port: 587, security: .starttls),
      imap: .init(proto: .imap, host: "imap.mail.me.com", port: 993, security: .tls),
      appPasswords: .required,
      appPasswordPage: "https://account.apple.com (Sign-In and Security → App-Specific Passwords)",
      defaultKind: .appPassword, defaultLifetime: nil,
      notes: ["iCloud requires an app-specific password for third-party mail clients (at most 25 at a time)."],
      basicAuthDisabled: false, prefersStartTLS: true),
    Provider(
      id: "fastmail", name: "Fastmail",
      smtp: .init(proto: .smtp, host: "smtp.fastmail.com", port: 465, security: .tls),
      imap: .init(proto: .imap, host: "imap.fastmail.com", port: 993, security: .tls),
      appPasswords: .required,
      appPasswordPage: "https://app.fastmail.com/settings/security/devicekeys",
      defaultKind: .appPassword, defaultLifetime: nil,
      notes: ["Fastmail requires an app password for SMTP and IMAP (Settings → Privacy & Security)."],
      basicAuthDisabled: false, prefersStartTLS: false),
    Provider(
      id: "zoho", name: "Zoho Mail",
      smtp: .init(proto: .smtp, host: "smtp.zoho.com", port: 587, security: .starttls),
      imap: .init(proto: .imap, host: "imap.zoho.com", port: 993, security: .tls),
      appPasswords: .optional,
      appPasswordPage: "https://accounts.zoho.com/home#security/app_password",
      defaultKind: .appPassword, defaultLifetime: nil,
      notes: ["Zoho requires an app password when multi-factor authentication is on; paid organisations may "
        + "use smtppro.zoho.com / imappro.zoho.com."],
      basicAuthDisabled: false, prefersStartTLS: false),
    Provider(
      id: "gmx", name: "GMX",
      smtp: .init(proto: .smtp, host: "mail.gmx.net", port: 587, security: .starttls),
      imap: .init(proto: .imap, host: "imap.gmx.net", port: 993, security: .tls),
      appPasswords: .none, appPasswordPage: nil, defaultKind: .password, defaultLifetime: nil,
      notes: ["GMX: IMAP/SMTP access must first be enabled in the web mailer's settings."],
      basicAuthDisabled: false, prefersStartTLS: false),
    Provider(
      id: "proton-bridge", name: "Proton Mail Bridge (local)",
      smtp: .init(proto: .smtp, host: "127.0.0.1", port: 1025, security: .starttls),
      imap: .init(proto: .imap, host: "127.0.0.1", port: 1143, security: .starttls),
      appPasswords: .required, appPasswordPage: "the Bridge application shows the password to use",
      defaultKind: .appPassword, defaultLifetime: nil,
      notes: ["Proton Bridge uses a self-signed certificate: export it from Bridge and pass it with \(option: .caFile(nil))."],
      basicAuthDisabled: false, prefersStartTLS: false),
  ]
}

// MARK: - Which kinds of credential each provider still accepts (issue 18)
//
// The one place for these facts: `list`, `show`, `audit` (offline too) and `add` read them from here. Each
// fact carries the date it takes effect, so that an upcoming change is announced before it bites and a past
// one is stated as such. Sources: Microsoft's Outlook.com announcement (basic auth for third-party clients
// ended 16 Sept 2024), Exchange Online's SMTP AUTH basic-authentication retirement notice (off by default for
// existing tenants at the end of December 2026, re-enableable by the tenant admin), "Deprecation of Basic
// authentication in Exchange Online" on learn.microsoft.com (IMAP and POP turned off from 1 Oct 2022; since
// 31 Dec 2022 no tenant can turn it back on), Google's app-password help page (revoked when the account
// password changes).

extension Provider {
  /// The policy facts of this provider, from `kindPolicyTable`.
  public var kindPolicies: [KindPolicy] { Provider.kindPolicyTable[id] ?? [] }

  public static let kindPolicyTable: [String: [KindPolicy]] = [
    "outlook.com": [
      KindPolicy(
        kinds: [.password, .appPassword], protocols: [.smtp, .imap], effective: "2024-09-16",
        effect: .refused,
        fact: "Outlook.com has refused passwords and app passwords for SMTP and IMAP since 16 Sept 2024 "
          + "(535 5.7.139): only OAuth2 works",
        fix: "authorize")
    ],
    "office365": [
      KindPolicy(
        kinds: [.password, .appPassword], protocols: [.imap], effective: "2022-12-31", effect: .refused,
        fact: "Exchange Online has refused passwords for IMAP since the end of 2022 (basic authentication off "
          + "from 1 Oct 2022, and no tenant can re-enable it since 31 Dec 2022): only OAuth2 works for IMAP",
        fix: "authorize"),
      KindPolicy(
        kinds: [.password, .appPassword], protocols: [.smtp], effective: "2026-12-31",
        effect: .refusedByDefault,
        fact: "Microsoft 365 turns basic SMTP AUTH off by default for existing tenants at the end of Dec 2026 "
          + "(then 550 5.7.30); the tenant admin can re-enable it, OAuth2 keeps working",
        fix: "authorize")
    ],
    "gmail": [
      KindPolicy(
        kinds: [.appPassword], protocols: [.smtp, .imap], effective: nil, effect: .caveat,
        fact: "revoked when the Google password changes", fix: nil)
    ],
  ]

  /// The preset a credential belongs to: the one it names, else the one whose SMTP host it uses (a
  /// credential added with `--smtp smtp-mail.outlook.com` is still an Outlook.com one).
  public static func of(_ credential: Credential) -> Provider? {
    if let id = credential.provider, let named = named(id) { return named }
    guard let host = credential.smtp?.host.lowercased() else { return nil }
    return all.first { $0.smtp.host == host }
  }
}

/// One fact about a kind of credential at one provider.
public struct KindPolicy: Sendable, Equatable {
  public enum Effect: String, Sendable {
    /// The provider refuses this kind: every check will fail.
    case refused
    /// Refused unless an administrator turns it back on.
    case refusedByDefault = "refused-by-default"
    /// Accepted, with a caveat worth knowing (shown by `show`, never a warning).
    case caveat
  }

  public var kinds: [CredentialKind]
  /// The protocols the fact is about (a credential with none of these endpoints is not concerned).
  public var protocols: [MailProtocol]
  /// `YYYY-MM-DD` from which it holds; nil for a standing fact.
  public var effective: String?
  public var effect: Effect
  public var fact: String
  /// The mailcred command that fixes it (`authorize`), if one does.
  public var fix: String?
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `audit --format prometheus`: the audit in Prometheus' text exposition format (version 0.0.4), for
/// node_exporter's textfile collector.
///
/// Names follow Prometheus' conventions: a `mailcred_` prefix, base units in the name (`_seconds`), points
/// in time as `_timestamp_seconds` Unix times (so an alert computes `... - time()` itself and the file does
/// not go stale between audits). Labels are the ones an alert or a dashboard groups by and that stay put
/// for a credential's life: `account` (the unique name), `kind`, `provider`, `user`; checks add
/// `protocol`. Hosts and ports stay out (they are in `mailcred show`), and so does anything that changes
/// per run: a label value that changes starts a new series. `mailcred_check_result` has a series for
/// every class, 1 for the class found and 0 for the others (as node_exporter's systemd unit state does):
/// an alert on `{class="rejected"} == 1` keeps seeing the series go back to 0 when fixed, instead of a
/// series vanishing.
///
/// Only current credentials appear, one set of series per account (an interrupted rotation's second
/// current item would otherwise repeat the same series, which the collector rejects as duplicates).
public enum AuditPrometheus {
  public static let fileName = "mailcred.prom"

  public static func render(_ rows: [AuditRow], now: Date, offline: Bool) -> String {
    var seen: Set<String> = []
    // Rows come worst first: an account's first current row is the one that decides its exit status.
    let current = rows.filter { $0.credential.state == .current && seen.insert($0.credential.account).inserted }
      .sorted { $0.credential.account < $1.credential.account }
    var out = ""

    family(&out, "mailcred_audit_timestamp_seconds",
      "When this audit ran (Unix time). An old value means the audit timer stopped.") {
      sample(&$0, "mailcred_audit_timestamp_seconds", [], seconds(now))
    }
    family(&out, "mailcred_credential_created_timestamp_seconds", "When the credential's secret was created (Unix time).") { text in
      for row in current { sample(&text, "mailcred_credential_created_timestamp_seconds", identity(row), seconds(row.credential.created)) }
    }
    family(&out, "mailcred_credential_expiry_timestamp_seconds",
      "When the credential's secret expires (Unix time); absent for a credential without an expiry date.") { text in
      for row in current {
        guard let expires = row.credential.expires else { continue }
        sample(&text, "mailcred_credential_expiry_timestamp_seconds", identity(row), seconds(expires))
      }
    }
    family(&out, "mailcred_oauth_last_refresh_timestamp_seconds",
      "When an OAuth2 grant's refresh token was last used (Unix time). Microsoft ends one unused for 90 days.") { text in
      for row in current {
        guard let last = row.lastRefresh else { continue }
        sample(&text, "mailcred_oauth_last_refresh_timestamp_seconds", identity(row), seconds(last))
      }
    }
    if !offline {
      let checks = current.flatMap { row in row.checks.map { (row.credential.account, $0) } }
        .sorted { ($0.0, $0.1.endpoint.proto.rawValue) < ($1.0, $1.1.endpoint.proto.rawValue) }
      family(&out, "mailcred_check_success", "1 when the live AUTH check of the endpoint authenticated, else 0.") { text in
        for (account, check) in checks {
          sample(&text, "mailcred_check_success", [("account", account), ("protocol", check.endpoint.proto.rawValue)], check.verdict == .ok ? "1" : "0")
        }
      }
      family(&out, "mailcred_check_result",
        "The live AUTH check's result class (mailcred(1), Result classes): 1 for the class found, 0 for the others.") { text in
        for (account, check) in checks {
          for cls in CheckClass.allCases {
            sample(&text, "mailcred_check_result",
              [("account", account), ("protocol", check.endpoint.proto.rawValue), ("class", cls.rawValue)], check.verdict == cls ? "1" : "0")
          }
        }
      }
      family(&out, "mailcred_check_duration_seconds", "How long the live AUTH check took, connect to verdict.") { text in
        for (account, check) in checks {
          sample(&text, "mailcred_check_duration_seconds", [("account", account), ("protocol", check.endpoint.proto.rawValue)],
            duration(check.latency))
        }
      }
    }
    return out
  }

  // MARK: Exposition format

  /// `# HELP` and `# TYPE` (every family here is a gauge), then the samples `body` writes.
  static func family(_ out: inout String, _ name: String, _ help: String, _ body: (inout String) -> Void) {
    out += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) gauge\n"
    body(&out)
  }

  static func sample(_ out: inout String, _ name: String, _ labels: [(String, String)], _ value: String) {
    out += name
    if !labels.isEmpty {
      out += "{" + labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
    }
    out += " \(value)\n"
  }

  static func identity(_ row: AuditRow) -> [(String, String)] {
    let c = row.credential
    return [("account", c.account), ("kind", c.kind.rawValue), ("provider", c.provider ?? ""), ("user", c.user)]
  }

  /// A label value: backslash, double quote and line feed are escaped (`\\`, `\"`, `\n`); the rest is UTF-8 as is.
  public static func escapeLabelValue(_ value: String) -> String {
    var out = ""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  /// HELP text: only backslash and line feed are escaped.
  public static func escapeHelp(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  static func seconds(_ date: Date) -> String { String(Int64(date.timeIntervalSince1970.rounded(.down))) }

  /// Milliseconds are all a check's duration means; three decimals, no exponent.
  static func duration(_ value: Double) -> String {
    let millis = Int64((max(0, value) * 1000).rounded())
    let fraction = String(millis % 1000)
    return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
  }
}

import MailcredCore
import MailcredSpelling

/// Left-aligned columns separated by two spaces; the last column is not padded.
func table(_ header: [String], _ rows: [[String]]) -> String {
  let all = [header] + rows
  var widths = Array(repeating: 0, count: header.count)
  for row in all {
    for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
  }
  var out = ""
  for row in all {
    var line = ""
    for (i, cell) in row.enumerated() {
      line += i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
    }
    while line.hasSuffix(" ") { line.removeLast() }
    out += line + "\n"
  }
  return out
}

func shortDate(_ date: MailcredDate) -> String { String(RFC3339.format(date).prefix(10)) }

extension Credential {
  /// `ok`, `expires in 3 days`, `expired 2 days ago`, plus `pending`/`erased` when not current.
  func statusText(now: MailcredDate, warningDays: Int = ExpiryStatus.defaultWarningDays) -> String {
    let expiry = ExpiryStatus(expires: expires, now: now, warningDays: warningDays)
    let text: String
    switch expiry {
    case .noExpiry, .valid: text = "ok"
    default: text = expiry.description
    }
    switch state {
    case .current: return text
    case .pending: return "pending rotation"
    case .erased:
      let when = erasedAt.map { " on \(shortDate($0))" } ?? ""
      return "erased at git's request\(when) — `\(AdviceCommand.restore(account).text)`"
    }
  }

  var lastCheckText: String {
    guard let checked else { return "never" }
    return "\(checkResult ?? "?") \(shortDate(checked))"
  }
}

/// One IMAP server line (RFC 9051 7), as far as authentication needs it.
enum IMAPResponse: Equatable {
  /// `+ text`: the server waits for the rest of a command.
  case continuation(String)
  /// `* OK …`, `* CAPABILITY …`, `* BYE …`, `* 3 EXISTS`: `kind` is the first word, upper-cased.
  case untagged(kind: String, code: IMAPResponseCode?, text: String)
  /// `TAG OK|NO|BAD [CODE …] text`.
  case tagged(tag: String, status: IMAPStatus, code: IMAPResponseCode?, text: String)

  init?(line: [UInt8]) {
    let text = String(decoding: line, as: UTF8.self)
    if text == "+" || text.hasPrefix("+ ") {
      self = .continuation(String(text.dropFirst(2)))
      return
    }
    let words = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
    guard words.count == 2, !words[0].isEmpty else { return nil }
    let rest = words[1]
    let second = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
    let kind = second[0].uppercased()
    let afterKind = second.count > 1 ? second[1] : ""
    if words[0] == "*" {
      let isStatus = ["OK", "NO", "BAD", "BYE", "PREAUTH"].contains(kind)
      let (code, remainder) = isStatus ? IMAPResponseCode.split(afterKind) : (nil, afterKind)
      self = .untagged(kind: kind, code: code, text: String(remainder))
      return
    }
    guard let status = IMAPStatus(rawValue: kind), words[0].allSatisfy({ $0.isASCII && $0 != "+" })
    else { return nil }
    let (code, remainder) = IMAPResponseCode.split(afterKind)
    self = .tagged(tag: String(words[0]), status: status, code: code, text: String(remainder))
  }
}

enum IMAPStatus: String, Equatable {
  case ok = "OK"
  case no = "NO"
  case bad = "BAD"
}

/// A response code such as `[AUTHENTICATIONFAILED]` or `[CAPABILITY IMAP4rev1 AUTH=PLAIN]`.
struct IMAPResponseCode: Equatable {
  var name: String
  var arguments: [String]

  /// Splits `[CODE args] text` into the code and the text.
  static func split(_ text: Substring) -> (IMAPResponseCode?, Substring) {
    guard text.hasPrefix("["), let close = text.firstIndex(of: "]") else { return (nil, text) }
    let inside = text[text.index(after: text.startIndex)..<close].split(separator: " ")
    let rest = text[text.index(after: close)...].drop(while: { $0 == " " })
    guard let name = inside.first else { return (nil, rest) }
    return (IMAPResponseCode(name: name.uppercased(), arguments: inside.dropFirst().map(String.init)), rest)
  }
}

extension IMAPResponseCode: CustomStringConvertible {
  var description: String { "[" + ([name] + arguments).joined(separator: " ") + "]" }
}

/// A status response as one line for a result's detail: `NO [AUTHENTICATIONFAILED] Authentication failed.`
/// A CAPABILITY code is left out: it is long and says nothing about the verdict.
func imapSummary(_ status: String, _ code: IMAPResponseCode?, _ text: String) -> String {
  let shownCode = code?.name == "CAPABILITY" ? nil : code?.description
  return oneLine(([status] + [shownCode, text].compactMap { $0 }.filter { !$0.isEmpty }).joined(separator: " "))
}

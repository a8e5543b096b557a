/// An RFC 3463 enhanced status code such as `5.7.139`.
public struct EnhancedStatus: Equatable, Sendable, CustomStringConvertible {
  public var klass: Int
  public var subject: Int
  public var detail: Int

  public init(_ klass: Int, _ subject: Int, _ detail: Int) {
    self.klass = klass
    self.subject = subject
    self.detail = detail
  }

  /// Parses the code at the start of a reply's text (`5.7.8 Authentication failed`).
  init?(prefixOf text: Substring) {
    let word = text.prefix(while: { $0 != " " })
    let parts = word.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, parts.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(\.isASCII) }),
      let k = Int(parts[0]), [2, 4, 5].contains(k), parts[0].count == 1,
      let s = Int(parts[1]), let d = Int(parts[2])
    else { return nil }
    self.init(k, s, d)
  }

  public var description: String { "\(klass).\(subject).\(detail)" }
}

/// One complete SMTP reply (RFC 5321 4.2): a code and one or more lines of text.
public struct SMTPReply: Equatable, Sendable {
  public var code: Int
  /// The text of each line, without the code and its separator.
  public var lines: [String]

  public init(code: Int, lines: [String]) {
    self.code = code
    self.lines = lines
  }

  public var enhanced: EnhancedStatus? { lines.first.flatMap { EnhancedStatus(prefixOf: $0[...]) } }

  /// The reply as one line for a result's detail: `534 5.7.9 Application-specific password required. …`
  /// (the enhanced code repeated on continuation lines is dropped).
  public var summary: String {
    var parts: [String] = []
    let repeated = enhanced.map { "\($0) " }
    for (index, line) in lines.enumerated() {
      var text = Substring(line)
      if index > 0, let repeated, text.hasPrefix(repeated) { text = text.dropFirst(repeated.count) }
      let trimmed = text.drop(while: { $0 == " " })
      if !trimmed.isEmpty { parts.append(String(trimmed)) }
    }
    return oneLine(([String(code)] + parts).joined(separator: " "))
  }
}

/// Collects server lines into complete replies, rejecting anything that is not `DDD`, `DDD text` or
/// `DDD-text` with one code throughout.
struct SMTPReplyReader {
  enum Outcome: Equatable {
    case incomplete
    case complete(SMTPReply)
    case malformed(String)
  }

  /// A server that never ends a multi-line reply is bounded by the deadline, its memory by this.
  static let maxLines = 512

  private var code: Int?
  private var lines: [String] = []

  mutating func feed(_ line: [UInt8]) -> Outcome {
    guard line.count >= 3, line[0] >= UInt8(ascii: "2"), line[0] <= UInt8(ascii: "5"),
      line[1] >= UInt8(ascii: "0"), line[1] <= UInt8(ascii: "9"),
      line[2] >= UInt8(ascii: "0"), line[2] <= UInt8(ascii: "9")
    else { return .malformed("malformed reply: \(quoted(line))") }
    let lineCode = Int(line[0] - 48) * 100 + Int(line[1] - 48) * 10 + Int(line[2] - 48)
    let last: Bool
    switch line.count > 3 ? line[3] : UInt8(ascii: " ") {
    case UInt8(ascii: " "): last = true
    case UInt8(ascii: "-"): last = false
    default: return .malformed("malformed reply: \(quoted(line))")
    }
    if let code, code != lineCode {
      return .malformed("reply code changed from \(code) to \(lineCode) inside one reply")
    }
    code = lineCode
    lines.append(String(decoding: line.dropFirst(4), as: UTF8.self))
    if !last {
      if lines.count >= Self.maxLines { return .malformed("reply longer than \(Self.maxLines) lines") }
      return .incomplete
    }
    let reply = SMTPReply(code: lineCode, lines: lines)
    code = nil
    lines = []
    return .complete(reply)
  }
}

/// The extensions an EHLO reply advertises (RFC 5321 4.1.1.1): first line is the server's name.
struct SMTPCapabilities: Equatable {
  var keywords: Set<String> = []
  /// SASL mechanisms after `AUTH` (or the pre-standard `AUTH=`), upper-cased; nil when AUTH is absent.
  var authMechanisms: [String]?

  init(ehlo reply: SMTPReply) {
    for line in reply.lines.dropFirst() {
      let words = line.split(separator: " ").map { $0.uppercased() }
      guard var keyword = words.first else { continue }
      var parameters = Array(words.dropFirst())
      if keyword.hasPrefix("AUTH=") {
        parameters.insert(String(keyword.dropFirst(5)), at: 0)
        keyword = "AUTH"
      }
      keywords.insert(keyword)
      if keyword == "AUTH" {
        var mechanisms = authMechanisms ?? []
        for mechanism in parameters where !mechanisms.contains(mechanism) { mechanisms.append(mechanism) }
        authMechanisms = mechanisms
      }
    }
  }
}

/// Server text made safe for a one-line message: control characters shown as `?`, at most 512 characters.
func oneLine(_ text: String) -> String {
  var out = ""
  var count = 0
  for scalar in text.unicodeScalars {
    if count == 512 {
      out += "…"
      break
    }
    count += 1
    if scalar == "\t" {
      out += " "
    } else if scalar.value < 0x20 || scalar.value == 0x7f || scalar == "\u{FFFD}" {
      out += "?"
    } else {
      out.unicodeScalars.append(scalar)
    }
  }
  return out
}

func quoted(_ line: [UInt8]) -> String {
  "'" + oneLine(String(decoding: line.prefix(120), as: UTF8.self)) + (line.count > 120 ? "…'" : "'")
}

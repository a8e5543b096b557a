import MailcredCore

/// A client configuration file as lines of exact bytes, so that writing it back unchanged gives the same
/// bytes and a rewrite touches only the lines it replaces (CRLF endings, a missing final newline, odd
/// spacing and every comment survive).
public struct ConfigFile: Sendable {
  public struct Line: Sendable, Equatable {
    /// The line without its "\n" (a "\r" before it stays here: both clients treat it as white space).
    public var bytes: [UInt8]
    /// Whether the line ended with "\n" (false only for a last line without one).
    public var newline: Bool
  }

  public let path: String
  public private(set) var lines: [Line]

  /// Above this a file is not a mail client's configuration: refuse it rather than parse megabytes.
  public static let maximumSize = 1 << 20

  /// Splits `bytes` into lines. Refuses what no client would read as text: NUL bytes, invalid UTF-8,
  /// or more than `maximumSize` bytes.
  public init(path: String, bytes: [UInt8]) throws(ConfigError) {
    self.path = path
    if bytes.count > Self.maximumSize {
      throw .unusable(path, "larger than 1 MiB (\(bytes.count) bytes): not a mail client configuration")
    }
    if bytes.contains(0) { throw .unusable(path, "contains NUL bytes: not a text file") }
    if String(validating: bytes, as: UTF8.self) == nil { throw .unusable(path, "not valid UTF-8 text") }
    var lines: [Line] = []
    var start = 0
    for (index, byte) in bytes.enumerated() where byte == 0x0a {
      lines.append(Line(bytes: Array(bytes[start..<index]), newline: true))
      start = index + 1
    }
    if start < bytes.count { lines.append(Line(bytes: Array(bytes[start...]), newline: false)) }
    self.lines = lines
  }

  /// The file's bytes: identical to the input unless a line was replaced.
  public var bytes: [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(lines.reduce(0) { $0 + $1.bytes.count + 1 })
    for line in lines {
      out += line.bytes
      if line.newline { out.append(0x0a) }
    }
    return out
  }

  /// The text of line `number` (1-based), for messages and matching; never call this on a line that
  /// holds a secret (it would copy the secret into a String).
  public func text(ofLine number: Int) -> String {
    String(decoding: lines[number - 1].bytes, as: UTF8.self)
  }

  /// Replaces the content of line `number` (1-based), keeping its line ending (a CRLF file stays CRLF).
  public mutating func replace(line number: Int, with text: String) {
    var content = Array(text.utf8)
    if lines[number - 1].bytes.last == 0x0d { content.append(0x0d) }
    lines[number - 1].bytes = content
  }

  /// Replaces line `number` with raw bytes (undo puts a secret back this way, never through a String).
  public mutating func replace(line number: Int, withBytes content: [UInt8]) {
    var content = content
    if lines[number - 1].bytes.last == 0x0d { content.append(0x0d) }
    wipeLine(number)
    lines[number - 1].bytes = content
  }

  private mutating func wipeLine(_ number: Int) { MailcredCore.wipe(&lines[number - 1].bytes) }

  /// Adds a line after line `number`, with the same line ending.
  public mutating func insert(_ text: String, after number: Int) {
    var content = Array(text.utf8)
    if lines[number - 1].bytes.last == 0x0d { content.append(0x0d) }
    let newline = lines[number - 1].newline
    lines[number - 1].newline = true
    lines.insert(Line(bytes: content, newline: newline), at: number)
  }

  /// Removes line `number` (undo takes back a line import added).
  public mutating func remove(line number: Int) {
    let removed = lines.remove(at: number - 1)
    if !removed.newline, number - 2 >= 0 { lines[number - 2].newline = false }
  }

  /// Appends text (one or more lines), adding a newline to an unterminated last line first.
  public mutating func append(_ text: String) {
    if let last = lines.indices.last, !lines[last].newline { lines[last].newline = true }
    var start = 0
    let bytes = Array(text.utf8)
    for (index, byte) in bytes.enumerated() where byte == 0x0a {
      lines.append(Line(bytes: Array(bytes[start..<index]), newline: true))
      start = index + 1
    }
    if start < bytes.count { lines.append(Line(bytes: Array(bytes[start...]), newline: false)) }
  }

  /// Overwrites every line's bytes with zeros: the file may have held a plaintext secret.
  public mutating func wipe() {
    for index in lines.indices { MailcredCore.wipe(&lines[index].bytes) }
    lines.removeAll()
  }
}

/// Why a configuration could not be used: one line, naming the file.
public enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  case unusable(String, String)

  public var description: String {
    switch self {
    case .unusable(let path, let reason): return "\(path): \(reason)"
    }
  }
}

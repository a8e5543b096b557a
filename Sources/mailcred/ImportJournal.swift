#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MailcredConfig
import MailcredCore
import MailcredSpelling

/// What `import --undo` needs to put a line back, without keeping the secret anywhere but the keyring:
/// the bytes around the secret, how it was quoted, and the line that replaced it. Kept in
/// $XDG_STATE_HOME/mailcred/import-journal (mode 600), one JSON object per line.
enum ImportJournal {
  struct Entry: Codable, Equatable {
    var path: String
    var line: Int
    var written: String
    var prefix: String
    var suffix: String
    var quoted: Bool
    var client: String
    var account: String
    /// The quote character around the secret (`"` or `'`), when there was one.
    var quote: String? = nil
    /// The line import added after it (neomutt's `set smtp_pass` for a URL password), removed again.
    var inserted: String? = nil
    /// `url`: the secret was percent-encoded in a URL.
    var encoding: String? = nil
    /// Text import added at the end of the file (git's credential helper section), removed again.
    var appended: String? = nil
    /// The line as it was, when it held no secret (a `secret-tool lookup` command): put back as it is.
    var original: String? = nil
    /// The line `written` was added by import (a `passwordeval` for msmtp's own keyring item): removed.
    var added: Bool? = nil
    /// Taken from another program's keyring item: nothing secret to put back, only lines to restore.
    var foreign: Bool? = nil
  }

  static var path: String {
    let home = getenv("HOME").map { String(cString: $0) } ?? "/"
    let state = getenv("XDG_STATE_HOME").map { String(cString: $0) } ?? home + "/.local/state"
    return state + "/mailcred/import-journal"
  }

  static func read() -> [Entry] {
    guard let loaded = try? ClientFiles.load(path) else { return [] }
    let decoder = JSONDecoder()
    return loaded.file.lines.compactMap { try? decoder.decode(Entry.self, from: Data($0.bytes)) }
  }

  static func write(_ entries: [Entry]) throws(ConfigError) {
    let directory = String(path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
    var built = ""
    for part in directory.split(separator: "/") {
      built += "/" + part
      mkdir(built, 0o700)
    }
    if !ClientFiles.exists(path) {
      let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
      if fd >= 0 { close(fd) }
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var bytes: [UInt8] = []
    for entry in entries { bytes += ((try? encoder.encode(entry)).map(Array.init) ?? []) + [0x0a] }
    try ClientFiles.Replacement(for: path).commit(bytes, mode: 0o600)
  }

  /// Notes the items about to be rewritten, before the rewrite (a crash after leaves a harmless entry).
  static func record(_ items: [ImportItem], file: ConfigFile, path target: String) throws(ConfigError) {
    var entries = read()
    for item in items {
      let bytes = file.lines[item.plaintext.line - 1].bytes
      let range = item.plaintext.range
      var suffix = Array(bytes[range.upperBound...])
      if suffix.last == 0x0d { suffix.removeLast() }
      let raw = bytes[range]
      let quoteByte = raw.first.flatMap { first in raw.count >= 2 && (first == UInt8(ascii: "\"") || first == UInt8(ascii: "'")) && raw.last == first ? first : nil }
      let entry = Entry(
        path: target, line: item.plaintext.line, written: item.replacementLine,
        prefix: String(decoding: bytes[..<range.lowerBound], as: UTF8.self), suffix: String(decoding: suffix, as: UTF8.self),
        quoted: quoteByte != nil, client: item.account.client.rawValue, account: item.name,
        quote: quoteByte.map { String(UnicodeScalar($0)) }, inserted: item.insertedLine,
        encoding: item.plaintext.quoting == .url ? "url" : nil, appended: item.appendedText)
      entries.removeAll { $0.path == entry.path && $0.line == entry.line }
      entries.append(entry)
    }
    try write(entries)
  }

  /// Notes lines import changed that held no secret (taken from another program's keyring item).
  static func record(_ entries: [Entry]) throws(ConfigError) {
    var all = read()
    for entry in entries {
      all.removeAll { $0.path == entry.path && $0.line == entry.line }
      all.append(entry)
    }
    try write(all)
  }

  /// Puts back every journalled line of the named files (all when none): the secret comes from the keyring.
  static func undo(targets: [String], store: CredentialStore) -> ExitStatus {
    var entries = read()
    let wanted: Set<String>? = targets.isEmpty ? nil : Set(targets.flatMap { target -> [String] in
      if let client = MailClient(rawValue: target), !target.contains("/") {
        return ClientFiles.standardPaths(for: client).map(ClientFiles.realPath)
      }
      return [ClientFiles.realPath(target)]
    })
    let chosen = entries.filter { wanted?.contains($0.path) ?? true }
    if chosen.isEmpty {
      note("import --undo: nothing to undo")
      return .ok
    }
    var status = ExitStatus.ok
    for path in Set(chosen.map(\.path)).sorted() {
      var loaded: ClientFiles.Loaded
      do { loaded = try ClientFiles.load(path) } catch {
        Terminal.writeError("mailcred: \(error.description)")
        status = .configurationError
        continue
      }
      defer { loaded.file.wipe() }
      var restored: [Entry] = []
      // Bottom up: removing an added line does not move the lines still to be put back.
      for entry in chosen.filter({ $0.path == path }).sorted(by: { $0.line > $1.line }) {
        let current = loaded.file.text(ofLine: min(entry.line, max(loaded.file.lines.count, 1)))
        guard entry.line <= loaded.file.lines.count, current == entry.written || current == entry.written + "\r" else {
          Terminal.writeError("mailcred: \(path):\(entry.line): no longer the line import wrote; left as it is")
          status = .dataError
          continue
        }
        if entry.foreign == true {
          if let original = entry.original { loaded.file.replace(line: entry.line, with: original) }
          if entry.added == true { loaded.file.remove(line: entry.line) }
          if let appended = entry.appended { removeAppended(appended, from: &loaded.file) }
          restored.append(entry)
          continue
        }
        do {
          let secret = try store.secret(account: entry.account)
          defer { secret.wipe() }
          var line = Array(entry.prefix.utf8)
          line += secret.withTemporaryArray { originalForm($0, entry: entry) }
          line += Array(entry.suffix.utf8)
          loaded.file.replace(line: entry.line, withBytes: line)
          if let inserted = entry.inserted, entry.line < loaded.file.lines.count {
            let next = loaded.file.text(ofLine: entry.line + 1)
            if next == inserted || next == inserted + "\r" { loaded.file.remove(line: entry.line + 1) }
          }
          wipe(&line)
          if let appended = entry.appended { removeAppended(appended, from: &loaded.file) }
          restored.append(entry)
        } catch {
          Terminal.writeError("mailcred: \(path):\(entry.line): \(error.text); left as it is")
          status = error.exitStatus
        }
      }
      guard !restored.isEmpty else { continue }
      do {
        // Putting the secret back into the user's own file is what undo is for: only that file gets it.
        try ClientFiles.Replacement(for: path).commit(loaded.file.bytes, mode: loaded.facts.mode)
        entries.removeAll { restored.contains($0) }
        try write(entries)
        for entry in restored { note("\(path):\(entry.line): put back (the credential \(entry.account) stays in the keyring)") }
      } catch {
        Terminal.writeError("mailcred: \(error.description)")
        status = .configurationError
      }
    }
    return status
  }

  /// Takes back text import added at the end of a file, only when the file still ends with exactly it.
  static func removeAppended(_ appended: String, from file: inout ConfigFile) {
    let added = appended.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    let count = file.lines.count
    if count >= added.count, (0..<added.count).allSatisfy({ file.text(ofLine: count - added.count + 1 + $0) == added[$0] }) {
      for _ in added { file.remove(line: file.lines.count) }
    }
  }

  /// The secret written as the client reads it back to the same bytes.
  static func originalForm(_ secret: [UInt8], entry: Entry) -> [UInt8] {
    let dq = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    if entry.encoding == "url" {
      var out: [UInt8] = []
      for byte in secret {
        let c = Character(Unicode.Scalar(byte))
        if byte < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) { out.append(byte) } else {
          out += Array(("%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)).utf8)
        }
      }
      return out
    }
    func escaped(_ specials: Set<UInt8>) -> [UInt8] {
      var out: [UInt8] = [dq]
      for byte in secret {
        if specials.contains(byte) { out.append(backslash) }
        out.append(byte)
      }
      return out + [dq]
    }
    switch entry.client {
    case MailClient.mbsync.rawValue:
      let special: Set<UInt8> = [0x20, 0x09, dq, backslash, UInt8(ascii: "#")]
      return entry.quoted || secret.contains(where: special.contains) ? escaped([dq, backslash]) : secret
    case MailClient.git.rawValue:
      let special: Set<UInt8> = [0x20, 0x09, dq, backslash, UInt8(ascii: "#"), UInt8(ascii: ";")]
      return entry.quoted || secret.contains(where: special.contains) ? escaped([dq, backslash]) : secret
    case MailClient.neomutt.rawValue:
      if entry.quote == "'" && !secret.contains(UInt8(ascii: "'")) { return [UInt8(ascii: "'")] + secret + [UInt8(ascii: "'")] }
      return escaped([dq, backslash, UInt8(ascii: "`"), UInt8(ascii: "$")])
    default:
      return entry.quoted ? [dq] + secret + [dq] : secret
    }
  }
}

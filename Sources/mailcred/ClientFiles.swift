#if canImport(Glibc)
import Glibc
#endif
import MailcredConfig
import MailcredCore
import MailcredSpelling
import MailcredSystem

/// Finding, reading and safely replacing mail clients' configuration files (for doctor, import, setup).
enum ClientFiles {
  /// Where each client looks for its configuration, in its own order.
  static func standardPaths(for client: MailClient) -> [String] {
    let home = getenv("HOME").map { String(cString: $0) } ?? "/"
    let config = getenv("XDG_CONFIG_HOME").map { String(cString: $0) } ?? home + "/.config"
    switch client {
    case .msmtp: return [config + "/msmtp/config", home + "/.msmtprc"]
    case .mbsync: return [home + "/.mbsyncrc", config + "/isync/mbsyncrc"]
    case .neomutt: return [home + "/.neomuttrc", config + "/neomutt/neomuttrc", home + "/.muttrc", home + "/.mutt/muttrc"]
    case .aerc: return [config + "/aerc/accounts.conf"]
    case .git: return [home + "/.gitconfig", config + "/git/config"]
    }
  }

  /// `~/x` → `$HOME/x` (neomutt's `source ~/.mutt/secrets`).
  static func expandingTilde(_ path: String) -> String {
    guard path == "~" || path.hasPrefix("~/") else { return path }
    return (getenv("HOME").map { String(cString: $0) } ?? "") + path.dropFirst()
  }

  /// The client a file given by path belongs to: by name first, then by its first keywords.
  static func client(ofFile path: String, bytes: [UInt8]) -> MailClient? {
    let name = path.split(separator: "/").last.map(String.init)?.lowercased() ?? ""
    if name.contains("msmtp") { return .msmtp }
    if name.contains("mbsync") || name.contains("isync") { return .mbsync }
    if name.contains("muttrc") { return .neomutt }
    if name == "accounts.conf" || name.contains("aerc") { return .aerc }
    let text = String(decoding: bytes.prefix(65536), as: UTF8.self).lowercased()
    if text.contains("imapaccount") || text.contains("imapstore") { return .mbsync }
    if text.contains("smtp_url") || text.contains("imap_user") || text.contains("set folder") { return .neomutt }
    if text.contains("source-cred-cmd") || text.contains("outgoing =") || text.contains("source =") { return .aerc }
    for line in text.split(separator: "\n") {
      let word = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? ""
      if ["account", "defaults", "host", "passwordeval"].contains(word) { return .msmtp }
    }
    return nil
  }

  struct Loaded {
    var path: String
    var file: ConfigFile
    var facts: DoctorContext.FileFacts
  }

  /// Reads a whole file (following a symlink), refusing one that is too large before reading it.
  static func load(_ path: String) throws(ConfigError) -> Loaded {
    let fd: Int32
    do { fd = try openFile(path, O_RDONLY | O_CLOEXEC) } catch { throw .unusable(path, "cannot read: \(error.text)") }
    defer { closeFile(fd) }
    let info: stat
    do { info = try fileStatus(fd) } catch { throw .unusable(path, "cannot stat: \(error.text)") }
    if (info.st_mode & S_IFMT) != S_IFREG { throw .unusable(path, "not a regular file") }
    if Int(info.st_size) > ConfigFile.maximumSize {
      throw .unusable(path, "larger than 1 MiB (\(info.st_size) bytes): not a mail client configuration")
    }
    // One buffer of the limit's size (the file may hold a plaintext password): it never grows, and a file
    // that grew past the limit since fstat is cut at it and refused by ConfigFile.
    var bytes = [UInt8](repeating: 0, count: ConfigFile.maximumSize + 1)
    var total = 0
    while total < bytes.count {
      let n: Int
      do {
        n = try bytes.withUnsafeMutableBytes { raw in
          Result { () throws(Errno) in try readSome(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[total...])) }
        }.get()
      } catch { throw .unusable(path, "cannot read: \(error.text)") }
      if n == 0 { break }
      total += n
    }
    var content = Array(bytes[..<total])
    wipe(&bytes)
    defer { wipe(&content) }
    let file = try ConfigFile(path: path, bytes: content)
    return Loaded(path: path, file: file, facts: .init(mode: UInt32(info.st_mode & 0o7777), inGitWorkTree: insideGitWorkTree(path)))
  }

  /// Whether something is at `path` (a file we may not read, or a dangling link, counts: its error is
  /// reported when it is read).
  static func exists(_ path: String) -> Bool {
    do {
      _ = try linkStatus(path)
      return true
    } catch {
      return error != .noEntry && error != .notDirectory
    }
  }

  /// Whether a `.git` entry sits in the file's directory or any parent (dotfiles repositories in $HOME).
  static func insideGitWorkTree(_ path: String) -> Bool {
    var directory = realPath(path).split(separator: "/").dropLast().map(String.init)
    while true {
      if (try? linkStatus("/" + (directory + [".git"]).joined(separator: "/"))) != nil { return true }
      if directory.isEmpty { return false }
      directory.removeLast()
    }
  }

  /// The file a symlink chain ends at: a rewrite replaces the target and keeps the link.
  static func realPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// A temporary file beside `path`, made before anything is stored so that a read-only directory fails
  /// while nothing has changed. `commit` writes, fsyncs and renames it over the target (a symlink's
  /// target: the link stays) with its mode.
  struct Replacement {
    let file: AtomicReplacement

    init(for path: String) throws(ConfigError) {
      do { file = try AtomicReplacement(target: ClientFiles.realPath(path)) } catch {
        throw .unusable(path, "cannot write beside it (\(error.errno.text)): nothing changed")
      }
    }

    var target: String { file.target }

    /// Writes `bytes` (the new file: never a secret it did not already hold) and renames it into place.
    func commit(_ bytes: [UInt8], mode: UInt32) throws(ConfigError) {
      let committed = bytes.withUnsafeBytes { raw in
        Result { () throws(AtomicReplacement.Failure) in try file.commit(raw, mode: mode_t(mode)) }
      }
      do throws(AtomicReplacement.Failure) { try committed.get() } catch {
        throw .unusable(file.target, "\(error.step) failed (\(error.errno.text)): the file is unchanged")
      }
    }

    func discard() { file.discard() }
  }
}

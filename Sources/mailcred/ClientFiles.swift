#if canImport(Glibc)
import Glibc
#endif
import MailcredConfig
import MailcredCore

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
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw .unusable(path, "cannot read: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .unusable(path, "cannot stat: \(String(cString: strerror(errno)))") }
    if (info.st_mode & S_IFMT) != S_IFREG { throw .unusable(path, "not a regular file") }
    if Int(info.st_size) > ConfigFile.maximumSize {
      throw .unusable(path, "larger than 1 MiB (\(info.st_size) bytes): not a mail client configuration")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
    var total = 0
    while total < bytes.count {
      let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
      if n < 0 && errno == EINTR { continue }
      if n < 0 { throw .unusable(path, "cannot read: \(String(cString: strerror(errno)))") }
      if n == 0 { break }
      total += n
      if total == bytes.count { bytes += [UInt8](repeating: 0, count: 4096) }
      if total > ConfigFile.maximumSize { break }
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
    var info = stat()
    if stat(path, &info) == 0 || lstat(path, &info) == 0 { return true }
    return errno != ENOENT && errno != ENOTDIR
  }

  /// Whether a `.git` entry sits in the file's directory or any parent (dotfiles repositories in $HOME).
  static func insideGitWorkTree(_ path: String) -> Bool {
    var directory = realPath(path).split(separator: "/").dropLast().map(String.init)
    while true {
      var info = stat()
      if stat("/" + (directory + [".git"]).joined(separator: "/"), &info) == 0 { return true }
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
  /// while nothing has changed. `commit` writes, fsyncs and renames it over the target with its mode.
  final class Replacement {
    let target: String
    let temporary: String
    private var fd: Int32

    init(for path: String) throws(ConfigError) {
      target = ClientFiles.realPath(path)
      let directory = target.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
      let base = target.split(separator: "/").last.map(String.init) ?? "config"
      var template = Array("\(directory.isEmpty ? "." : directory)/.\(base).mailcred-XXXXXX".utf8CString)
      fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
      if fd < 0 {
        throw .unusable(path, "cannot write beside it (\(String(cString: strerror(errno)))): nothing changed")
      }
      temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Writes `bytes` (the new file: never a secret it did not already hold) and renames it into place.
    func commit(_ bytes: [UInt8], mode: UInt32) throws(ConfigError) {
      defer { if fd >= 0 { close(fd); fd = -1 } }
      guard fchmod(fd, mode_t(mode & 0o7777)) == 0 else { throw failure("chmod") }
      var offset = 0
      while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { throw failure("write") }
        offset += n
      }
      guard fsync(fd) == 0 else { throw failure("fsync") }
      guard rename(temporary, target) == 0 else { throw failure("rename") }
      // The rename itself must reach the disk too.
      let directory = target.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
      let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
      if dirfd >= 0 { _ = fsync(dirfd); close(dirfd) }
    }

    func discard() {
      if fd >= 0 { close(fd); fd = -1 }
      unlink(temporary)
    }

    private func failure(_ step: String) -> ConfigError {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      return .unusable(target, "\(step) failed (\(reason)): the file is unchanged")
    }

    deinit { if fd >= 0 { close(fd); unlink(temporary) } }
  }
}

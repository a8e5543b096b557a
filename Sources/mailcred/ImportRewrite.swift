import MailcredConfig
import MailcredCore
import MailcredSpelling

// The two ends of rewriting one client file, shared by every kind of import (plaintext lines, other
// tools' keyring items, netrc passwords).
extension Mailcred.Import {
  enum Prepared {
    case dryRun
    /// Said and counted: nothing was stored, nothing changed.
    case failed
    case file(ClientFiles.Replacement)
  }

  /// The temporary file beside `path`, made before anything is stored: a read-only directory fails here,
  /// with nothing changed.
  func prepareReplacement(of path: String, tally: inout Tally) -> Prepared {
    if dryRun { return .dryRun }
    do { return .file(try ClientFiles.Replacement(for: path)) } catch {
      Terminal.writeError("mailcred: \(error.description)")
      tally.failed(with: .configurationError)
      return .failed
    }
  }

  /// Writes `rewritten` in place of `loaded`'s file, the journal first (`--undo` needs it), when the file is
  /// still the one read (an editor saving meanwhile would lose its change otherwise). `unchanged` says
  /// where the secrets are when the file could not be written. True when it was.
  func commit(
    _ rewritten: ConfigFile, over loaded: ClientFiles.Loaded, with replacement: ClientFiles.Replacement,
    journal: () throws(ConfigError) -> Void, unchanged: String, tally: inout Tally
  ) -> Bool {
    guard var again = try? ClientFiles.load(loaded.path), again.file.bytes == loaded.file.bytes else {
      replacement.discard()
      Terminal.writeError("mailcred: \(loaded.path) changed during the import: not rewritten (the secrets are stored; run import again)")
      tally.failed(with: .temporaryFailure)
      return false
    }
    again.file.wipe()
    do {
      try journal()
      try replacement.commit(rewritten.bytes, mode: loaded.facts.mode)
    } catch {
      replacement.discard()
      Terminal.writeError("mailcred: \(error.description) (\(unchanged))")
      tally.failed(with: .configurationError)
      return false
    }
    tally.files += 1
    return true
  }
}

import MailcredCore
import MailcredSpelling
import MailcredSystem

/// Writes `DIR/NAME` as node_exporter's textfile collector wants it: never half-written. The text goes to a
/// temp file in the same directory (named `.NAME.XXXXXX`: the collector reads only `*.prom`, so it never
/// sees the temp file), fsynced, made world-readable (the collector runs as another user) and renamed over
/// the old file, then the directory is fsynced so the rename survives a crash. Any failure leaves the
/// previous file as it was and removes the temp file.
enum TextfileWriter {
  static func write(_ text: String, directory: String, name: String) throws(MailcredError) {
    let target = "\(directory)/\(name)"
    do throws(AtomicReplacement.Failure) {
      let file = try AtomicReplacement(target: target, temporaryName: ".\(name).")
      var text = text
      try text.withUTF8 { raw in
        Result { () throws(AtomicReplacement.Failure) in try file.commit(UnsafeRawBufferPointer(raw), mode: 0o644) }
      }.get()
    } catch {
      switch error.step {
      case "create": throw .configuration("cannot create a temp file in \(directory): \(error.errno.text)")
      case "rename": throw .configuration("cannot replace \(target): \(error.errno.text)")
      default: throw .configuration("cannot write the temp file for \(target): \(error.errno.text)")
      }
    }
  }
}

#if canImport(Glibc)
import Glibc
#endif

/// A bus address the direct client can connect to: a Unix socket by path or in the abstract namespace.
/// Anything else D-Bus allows (tcp:, launchd:, autolaunch:, unixexec:, several addresses to try in turn
/// once the first fails) stays with GDBus, which implements them all.
enum DBusUnixAddress: Equatable {
  case path(String)
  case abstract(String)

  /// The session bus as GDBus finds it: DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus when that
  /// exists. nil when neither is there (GDBus then tries X11 autolaunch, or fails with its own message).
  static func session(environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) -> DBusUnixAddress? {
    if let address = environment("DBUS_SESSION_BUS_ADDRESS") { return parse(address) }
    guard let runtime = environment("XDG_RUNTIME_DIR"), !runtime.isEmpty else { return nil }
    let path = runtime + "/bus"
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return .path(path)
  }

  /// Parses the first address of a D-Bus address list, `unix:path=...` or `unix:abstract=...` with an
  /// optional `guid=` (values %-escaped as the spec says). Any other form, key or escape: nil.
  static func parse(_ list: String) -> DBusUnixAddress? {
    guard let first = list.split(separator: ";", omittingEmptySubsequences: false).first,
      first.hasPrefix("unix:")
    else { return nil }
    var path: String?
    var abstract: String?
    for pair in first.dropFirst("unix:".count).split(separator: ",", omittingEmptySubsequences: false) {
      guard let equals = pair.firstIndex(of: "="), let value = unescape(pair[pair.index(after: equals)...]) else { return nil }
      switch pair[..<equals] {
      case "path" where path == nil: path = value
      case "abstract" where abstract == nil: abstract = value
      case "guid": continue
      default: return nil
      }
    }
    switch (path, abstract) {
    case (let path?, nil) where !path.isEmpty: return .path(path)
    case (nil, let name?) where !name.isEmpty: return .abstract(name)
    default: return nil
    }
  }

  /// `%XX` escapes decoded; anything else passes as it is. A broken escape or a NUL: nil.
  private static func unescape(_ value: Substring) -> String? {
    var bytes: [UInt8] = []
    var utf8 = value.utf8.makeIterator()
    while let byte = utf8.next() {
      if byte == UInt8(ascii: "%") {
        guard let high = utf8.next().flatMap(hexValue), let low = utf8.next().flatMap(hexValue) else { return nil }
        bytes.append(high << 4 | low)
      } else {
        bytes.append(byte)
      }
    }
    guard !bytes.contains(0) else { return nil }
    return String(validating: bytes, as: UTF8.self)
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
  }
}

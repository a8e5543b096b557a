/// Bad input from the user or a calling program: a one-line message and exit 64/65.
public enum InputError: Error, Equatable, Sendable, CustomStringConvertible {
  /// `what` named `value` is unusable, because `reason`.
  case invalid(String, String, String)
  /// A secret that must not be stored as typed.
  case secret(String)
  /// Free-form usage problem (missing option, conflicting options).
  case usage(String)

  public var description: String {
    switch self {
    case .invalid(let what, let value, let reason):
      return "invalid \(what) '\(printable(value))': \(reason)"
    case .secret(let reason): return reason
    case .usage(let reason): return reason
    }
  }

  public var exitStatus: ExitStatus {
    switch self {
    case .usage: return .usage
    default: return .dataError
    }
  }
}

/// Shows control characters escaped so that an error message stays one line.
func printable(_ text: String) -> String {
  var out = ""
  for scalar in text.unicodeScalars.prefix(200) {
    if scalar.value < 0x20 || scalar.value == 0x7f {
      out += "\\x" + String(scalar.value, radix: 16, uppercase: false).leftPadded(to: 2)
    } else {
      out.unicodeScalars.append(scalar)
    }
  }
  if text.unicodeScalars.count > 200 { out += "…" }
  return out
}

extension String {
  func leftPadded(to width: Int, with pad: Character = "0") -> String {
    count >= width ? self : String(repeating: pad, count: width - count) + self
  }
}

/// Bad input from the user or a calling program: a one-line message and exit 64/65.
public enum InputError: Error, Equatable, Sendable {
  /// `what` named `value` is unusable, because `reason`.
  case invalid(String, String, String)
  /// A secret that must not be stored as typed.
  case secret(Advice)
  /// Free-form usage problem (missing option, conflicting options).
  case usage(Advice)

  public var message: Advice {
    switch self {
    case .invalid: return Advice(invalidValueText ?? "")
    case .secret(let reason): return reason
    case .usage(let reason): return reason
    }
  }

  /// The text of `invalid`, which names no command or option: a fact another failure can carry as its
  /// detail (a token endpoint URL that is not https). Nil for the other cases, whose text is advice.
  public var invalidValueText: String? {
    guard case .invalid(let what, let value, let reason) = self else { return nil }
    return "invalid \(what) '\(printable(value))': \(reason)"
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

import MailcredCore

/// The one table that spells the core's advice as mailcred's command line: `rotate work` is
/// `mailcred rotate work`, the CA-file option `--ca-file CERT.pem`. Everything the CLI prints (the terminal,
/// `--json`, Nagios) goes through it; the core tests use it to compare the text users see.
public struct CommandLineSpelling: AdviceSpeller {
  public init() {}

  public func spell(_ command: AdviceCommand) -> String {
    var words = ["mailcred", verb(command.verb)]
    if let account = command.account { words.append(account) }
    words += command.options.map(spell)
    return words.joined(separator: " ")
  }

  public func spell(_ option: AdviceOption) -> String {
    switch option {
    case .replace: return "--replace"
    case .noCheck: return "--no-check"
    case .keepWhitespace: return "--keep-whitespace"
    case .timeout: return "--timeout"
    case .device: return "--device"
    case .resume: return "--resume"
    case .abort: return "--abort"
    case .previous: return "--previous"
    case .caFile(let file): return valued("--ca-file", file)
    case .server(let proto, let address): return valued("--\(proto.rawValue)", address)
    case .security(let proto, let security): return "--\(proto.rawValue)-security \(security.rawValue)"
    case .user(let user): return "--user \(user)"
    case .provider(let id): return valued("--provider", id)
    case .kind(let kind): return "--kind \(kind.rawValue)"
    case .clientID(let id): return valued("--client-id", id)
    case .clientSecretStdin: return "--client-secret-stdin"
    case .tokenEndpoint(let url): return valued("--token-endpoint", url)
    case .deviceEndpoint(let url): return valued("--device-endpoint", url)
    case .authorizationEndpoint(let url): return valued("--authorization-endpoint", url)
    }
  }

  private func verb(_ verb: AdviceCommand.Verb) -> String {
    switch verb {
    case .add: return "add"
    case .authorize: return "authorize"
    case .check: return "check"
    case .get: return "get"
    case .import: return "import"
    case .list: return "list"
    case .remove: return "remove"
    case .restore: return "restore"
    case .rotate: return "rotate"
    case .show: return "show"
    case .unlock: return "unlock"
    }
  }

  private func valued(_ flag: String, _ value: String?) -> String { value.map { "\(flag) \($0)" } ?? flag }
}

extension Advice {
  /// The advice as the command line's user reads it.
  public var text: String { spelled(by: CommandLineSpelling()) }
}

extension AdviceCommand {
  /// The command as typed on the command line.
  public var text: String { CommandLineSpelling().spell(self) }
}

extension ReportableError {
  /// The error's one line as `mailcred: TEXT` prints it (without the prefix).
  public var text: String { message.text }
}

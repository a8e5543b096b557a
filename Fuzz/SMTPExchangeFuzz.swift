// libFuzzer entry: the SMTP and IMAP authentication state machines fed arbitrary server lines. Properties:
// no crash, no secret before TLS when STARTTLS is required, no secret in a verdict's detail.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExchanges(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let input = Array(UnsafeBufferPointer(start: data, count: size))
  guard let first = input.first else { return 0 }
  let lines = input.dropFirst().split(separator: 0x0a, omittingEmptySubsequences: false).map { Array($0) }
  let security: TransportSecurity = [.starttls, .tls, .plain][Int(first % 3)]
  let secret = "fuzz-secret-value"
  if first & 0x80 == 0 {
    var exchange = SMTPAuthExchange(user: "u", secret: SecretBytes(taking: Array(secret.utf8)), security: security, clientName: "[127.0.0.1]")
    run(&exchange, lines, security: security, secret: secret)
  } else {
    var exchange = IMAPAuthExchange(user: "u", secret: SecretBytes(taking: Array(secret.utf8)), security: security)
    run(&exchange, lines, security: security, secret: secret)
  }
  return 0
}

private func run<E: AuthExchange>(_ exchange: inout E, _ lines: [[UInt8]], security: TransportSecurity, secret: String) {
  var tls = security == .tls
  for line in lines {
    var step = exchange.receive(line)
    while case .startTLS = step {
      tls = true
      step = exchange.tlsEstablished()
    }
    switch step {
    case .sendSecret where !tls && security == .starttls: fatalError("secret before TLS")
    case .finished(_, let detail, _):
      if detail.contains(secret) { fatalError("secret in detail") }
      return
    default: break
    }
  }
}

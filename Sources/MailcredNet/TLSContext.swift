import COpenSSL
import Synchronization

/// Contexts by extra CA file ("" for none): the trust store is parsed once per process, not per check.
private let contexts = Mutex<[String: TLSClientContext]>([:])

/// An OpenSSL client context: TLS ≥ 1.2, the system trust store plus an optional extra CA file, peer
/// verification on. Shared by all checks of one run (loading the trust store is the expensive part);
/// OpenSSL allows SSL_new from many threads on one configured context.
final class TLSClientContext: @unchecked Sendable {
  let context: OpaquePointer

  init(caFile: String?) throws(NetError) {
    ERR_clear_error()
    guard let context = SSL_CTX_new(TLS_client_method()) else { throw openSSLError("SSL_CTX_new") }
    self.context = context
    guard mailcred_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
      throw openSSLError("cannot require TLS 1.2")
    }
    SSL_CTX_set_options(context, mailcred_SSL_OP_NO_COMPRESSION() | mailcred_SSL_OP_NO_RENEGOTIATION())
    // Swift arrays may move between a WANT_WRITE and its retry.
    _ = mailcred_SSL_CTX_set_mode(context, mailcred_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
    guard SSL_CTX_set_default_verify_paths(context) == 1 else { throw openSSLError("cannot load the system trust store") }
    if let caFile {
      guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
        throw openSSLError("cannot load CA file '\(caFile)'")
      }
    }
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
  }

  deinit { SSL_CTX_free(context) }

  /// The process's context for `caFile`, made on first use. Failures are not remembered (the file may
  /// appear), and each caller gets the error.
  static func shared(caFile: String?) throws(NetError) -> TLSClientContext {
    let result = contexts.withLock { cache -> Result<TLSClientContext, NetError> in
      if let made = cache[caFile ?? ""] { return .success(made) }
      let made = Result { () throws(NetError) in try TLSClientContext(caFile: caFile) }
      if case .success(let context) = made { cache[caFile ?? ""] = context }
      return made
    }
    return try result.get()
  }
}

/// The one converter from OpenSSL's error convention to a Swift error: drains the thread's error queue
/// into one message (the queue would otherwise leak into the next operation on this thread).
func openSSLError(_ what: String, ssl: OpaquePointer? = nil) -> NetError {
  var reasons: [String] = []
  if let ssl {
    let verify = SSL_get_verify_result(ssl)
    if verify != X509_V_OK { reasons.append("certificate: " + String(cString: X509_verify_cert_error_string(verify))) }
  }
  while true {
    let code = ERR_get_error()
    if code == 0 { break }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    let text = string(fromNulTerminated: buffer)
    if !reasons.contains(text) { reasons.append(text) }
  }
  return .tls(reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))")
}

#if canImport(Glibc)
import Glibc
#endif
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
    // OpenSSL is loaded here, on first use (see COpenSSL/lazy.c): a system without it fails this check only.
    if let missing = mailcred_openssl_load() { throw .tls(String(cString: missing)) }
    ERR_clear_error()
    guard let context = SSL_CTX_new(TLS_client_method()) else { throw openSSLError("SSL_CTX_new") }
    self.context = context
    guard mailcred_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
      throw openSSLError("cannot require TLS 1.2")
    }
    SSL_CTX_set_options(context, mailcred_SSL_OP_NO_COMPRESSION() | mailcred_SSL_OP_NO_RENEGOTIATION())
    // Received plaintext is wiped from OpenSSL's buffer once copied out. (Sent plaintext needs nothing:
    // SSL_write copies it into the record buffer and encrypts it there in place.)
    SSL_CTX_set_options(context, mailcred_SSL_OP_CLEANSE_PLAINTEXT())
    // Swift arrays may move between a WANT_WRITE and its retry.
    _ = mailcred_SSL_CTX_set_mode(context, mailcred_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
    try Self.loadSystemTrustStore(into: context)
    if let caFile {
      guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
        throw openSSLError("cannot load CA file '\(caFile)'")
      }
    }
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
  }

  deinit { SSL_CTX_free(context) }

  /// The system trust store, preferably as OpenSSL's hashed certificate directory: it is read lazily, one
  /// issuer at a time, where the bundle file (`SSL_CTX_set_default_verify_paths` loads both) costs parsing
  /// every CA on each run — most of a one-shot `check`'s own time. A bundle named by SSL_CERT_FILE alone
  /// is honoured, as is a system without a hashed directory.
  private static func loadSystemTrustStore(into context: OpaquePointer) throws(NetError) {
    let environment = { (name: UnsafePointer<CChar>?) -> String? in
      guard let name, let value = getenv(name) else { return nil }
      let text = String(cString: value)
      return text.isEmpty ? nil : text
    }
    let fileFromEnvironment = environment(X509_get_default_cert_file_env())
    let directory = environment(X509_get_default_cert_dir_env()) ?? String(cString: X509_get_default_cert_dir())
    let useDirectory = (fileFromEnvironment == nil || environment(X509_get_default_cert_dir_env()) != nil)
      && hasHashedCertificates(directory)
    if useDirectory {
      guard SSL_CTX_load_verify_locations(context, nil, directory) == 1 else {
        throw openSSLError("cannot use the system trust store at \(directory)")
      }
    } else {
      guard SSL_CTX_set_default_verify_paths(context) == 1 else { throw openSSLError("cannot load the system trust store") }
    }
  }

  /// Whether `directory` holds c_rehash-style links (`8-hex-digits.0`), which lazy lookup needs.
  private static func hasHashedCertificates(_ directory: String) -> Bool {
    guard let handle = opendir(directory) else { return false }
    defer { closedir(handle) }
    while let entry = readdir(handle) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name.count == 10, name.hasSuffix(".0"), name.prefix(8).allSatisfy(\.isHexDigit) { return true }
    }
    return false
  }

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

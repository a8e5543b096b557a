import MailcredCore

/// The Secret Service reads that `get`, `list` and the git helper's `get` make, spoken straight on the bus
/// socket (`DBusConnection`) so that those commands never load GLib: SearchItems, the items' Attributes,
/// OpenSession "plain" and GetSecrets — the calls `SecretServiceBus` makes, in the same order, with the
/// same deadline. Independent calls go out together (every Attributes read; SearchItems with OpenSession once
/// the connection is registered), so `get` is three round trips including the connection's SASL exchange
/// and Hello: SearchItems, OpenSession, GetSecrets.
///
/// It handles only the common case. Anything else — a locked item, nothing found, two current items, a
/// reply of another shape, an error other than GetSecrets' — is `.fallBack`, and `SecretServiceKeyring`
/// does the whole operation again through GDBus (which prompts to unlock, words errors, and so on).
final class DirectSecretService {
  private static let service = "org.freedesktop.secrets"
  private static let servicePath = "/org/freedesktop/secrets"
  private static let serviceInterface = "org.freedesktop.Secret.Service"
  /// Attribute reads in flight at most: under dbus-daemon's built-in limit of 128 pending replies per
  /// connection (as `PipelinedReads`).
  static let window = 64

  private let connection: DBusConnection
  private var session: String?
  /// Whether the service has answered a SearchItems on this connection: proof that gnome-keyring has
  /// registered the connection as a client (see `SecretServiceBus.registered`). OpenSession waits for it.
  private var registered = false

  /// The bus at `address`, or the session bus (nil). `.fallBack` when the address is one only GDBus
  /// speaks, or the socket cannot be reached.
  init(address: String?) throws(DirectFailure) {
    guard let parsed = address.map(DBusUnixAddress.parse) ?? DBusUnixAddress.session() else {
      throw .fallBack("a bus address left to GDBus")
    }
    connection = try DBusConnection(parsed, timeoutMilliseconds: Int(SecretServiceBus.timeoutMilliseconds))
  }

  /// The secret of the one unlocked item matching `attributes` (`SecretServiceKeyring.lookup`'s common
  /// case): SearchItems, OpenSession, then GetSecrets.
  func lookup(_ attributes: [String: String]) throws(DirectFailure) -> SecretBytes {
    let found = try searchItems(attributes, openingSession: true)
    guard found.unlocked.count == 1 else { throw .fallBack("not exactly one unlocked item") }
    guard let secret = try secrets(of: found.unlocked)[found.unlocked[0]] else { throw .keyring(.itemVanished) }
    return secret
  }

  /// `SearchItems`; OpenSession goes out with it when asked (a read of secrets is likely to follow), no
  /// session is open yet, and the connection is registered. On a new connection OpenSession waits for
  /// SearchItems' answer (gnome-keyring's registration race: `SecretServiceBus.registered`). A SearchItems
  /// the race refused (UnknownMethod) is a fall-back, and GDBus asks again.
  func searchItems(_ attributes: [String: String], openingSession: Bool) throws(DirectFailure) -> (unlocked: [String], locked: [String]) {
    var body = DBusWriter()
    body.stringDictionary(attributes)
    var calls = [serviceCall("SearchItems", signature: "a{ss}", body.bytes)]
    let opening = openingSession && session == nil && registered
    if opening { calls.append(openSessionCall()) }
    var found: (unlocked: [String], locked: [String]) = ([], [])
    try connection.exchange(calls.count, { calls[$0] }) { index, reply throws(DirectFailure) in
      if index == 1 {
        session = try Self.sessionPath(reply)
        return
      }
      found = try Self.read(reply, "aoao") { body throws(DBusMalformed) in (try body.objectPaths(), try body.objectPaths()) }
      registered = true
    }
    return found
  }

  /// `Properties.Get(Item, "Attributes")` of each item, pipelined `window` deep. An item deleted meanwhile
  /// is left out, as `PipelinedReads` does; any other error falls back.
  func attributes(of paths: [String]) throws(DirectFailure) -> [String: [String: String]] {
    var results: [String: [String: String]] = [:]
    try connection.exchange(paths.count, window: Self.window, { attributesCall(paths[$0]) }) { index, reply throws(DirectFailure) in
      if let error = reply.error, keyringError(dbusName: error.name, message: error.message) == .itemVanished { return }
      results[paths[index]] = try Self.read(reply, "v") { body throws(DBusMalformed) in
        guard try body.signature() == "a{ss}" else { throw DBusMalformed("Attributes of an unexpected type") }
        return try body.stringDictionary()
      }
    }
    return results
  }

  /// `GetSecrets` for unlocked items, opening the session first if none is open. An error reply is the
  /// keyring error GDBus would report for it.
  func secrets(of paths: [String]) throws(DirectFailure) -> [String: SecretBytes] {
    if session == nil {
      guard registered else { throw .fallBack("OpenSession before the service answered a SearchItems") }
      try connection.exchange(1, { _ in openSessionCall() }) { _, reply throws(DirectFailure) in
        session = try Self.sessionPath(reply)
      }
    }
    guard let session else { throw .fallBack("no session") }
    var body = DBusWriter()
    body.array(elementAlignment: 4) { array in for path in paths { array.objectPath(path) } }
    body.objectPath(session)
    var secrets: [String: SecretBytes] = [:]
    let getSecrets = serviceCall("GetSecrets", signature: "aoo", body.bytes)
    try connection.exchange(1, { _ in getSecrets }) { _, reply throws(DirectFailure) in
      if let error = reply.error { throw .keyring(keyringError(dbusName: error.name, message: error.message)) }
      secrets = try Self.read(reply, "a{o(oayays)}") { body throws(DBusMalformed) in try body.secretDictionary() }
    }
    return secrets
  }

  /// `Properties.Set(Item, "Attributes", ...)`: what recording a check result writes (`check`). Any error
  /// reply falls back: GDBus then unlocks and retries as it does for every write.
  func setAttributes(of path: String, _ attributes: [String: String]) throws(DirectFailure) {
    var body = DBusWriter()
    body.string("org.freedesktop.Secret.Item")
    body.string("Attributes")
    body.signature("a{ss}")
    body.stringDictionary(attributes)
    let call = DBusMethodCall(
      serial: 0, destination: Self.service, path: path, interface: "org.freedesktop.DBus.Properties", member: "Set",
      signature: "ssv", body: body.bytes)
    try connection.exchange(1, { _ in call }) { _, reply throws(DirectFailure) in
      try Self.read(reply, "") { _ throws(DBusMalformed) in }
    }
  }

  // MARK: Calls and replies

  private func serviceCall(_ member: String, signature: String, _ body: [UInt8]) -> DBusMethodCall {
    DBusMethodCall(
      serial: 0, destination: Self.service, path: Self.servicePath, interface: Self.serviceInterface, member: member,
      signature: signature, body: body)
  }

  private func openSessionCall() -> DBusMethodCall {
    var body = DBusWriter()
    body.string("plain")
    body.stringVariant("")
    return serviceCall("OpenSession", signature: "sv", body.bytes)
  }

  private func attributesCall(_ path: String) -> DBusMethodCall {
    var body = DBusWriter()
    body.string("org.freedesktop.Secret.Item")
    body.string("Attributes")
    return DBusMethodCall(
      serial: 0, destination: Self.service, path: path, interface: "org.freedesktop.DBus.Properties", member: "Get",
      signature: "ss", body: body.bytes)
  }

  private static func sessionPath(_ reply: DBusReply) throws(DirectFailure) -> String {
    try read(reply, "vo") { body throws(DBusMalformed) in
      _ = try body.stringVariant()  // "plain" has no output
      return try body.objectPath()
    }
  }

  /// A method return of exactly `signature`, read whole by `parse`; anything else (an error reply, another
  /// type, bytes left over) is a fall-back.
  private static func read<T>(
    _ reply: DBusReply, _ signature: String, _ parse: (inout DBusReader) throws(DBusMalformed) -> T
  ) throws(DirectFailure) -> T {
    if reply.isError { throw .fallBack("error reply \(reply.header.errorName ?? "")") }
    guard reply.header.signature == signature else { throw .fallBack("reply of type \(reply.header.signature)") }
    var body = reply.body()
    do throws(DBusMalformed) {
      let value = try parse(&body)
      guard body.atEnd else { throw DBusMalformed("bytes after the reply") }
      return value
    } catch {
      throw .fallBack(error.what)
    }
  }
}

extension DBusReader {
  /// `a{ss}`.
  mutating func stringDictionary() throws(DBusMalformed) -> [String: String] {
    let end = try arrayEnd(elementAlignment: 8)
    var dictionary: [String: String] = [:]
    while offset < end {
      try align(8)
      let key = try string()
      dictionary[key] = try string()
    }
    try finishArray(at: end)
    return dictionary
  }

  /// `a{o(oayays)}`: each item's secret value, copied once into `SecretBytes` (the received message is
  /// wiped by its buffer). The session, parameters ("plain" has none) and content type are checked, unused.
  mutating func secretDictionary() throws(DBusMalformed) -> [String: SecretBytes] {
    let end = try arrayEnd(elementAlignment: 8)
    var secrets: [String: SecretBytes] = [:]
    while offset < end {
      try align(8)
      let path = try objectPath()
      try align(8)
      _ = try objectPath()
      _ = try byteArray()
      let value = try byteArray()
      _ = try string()
      secrets[path] = SecretBytes(taking: Array(UnsafeRawBufferPointer(rebasing: bytes[value])))
    }
    try finishArray(at: end)
    return secrets
  }
}

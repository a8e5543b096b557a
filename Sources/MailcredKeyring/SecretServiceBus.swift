import CGLib
import CGLibLazy
import MailcredCore

/// The Secret Service D-Bus API, called directly through GDBus. libsecret is not used: it builds a proxy
/// per item (a `Properties.GetAll` round trip each), negotiates an encrypted session, and its writes wait
/// for prompts without a deadline — KeePassXC answers every `CreateItem` and `Item.Delete` with a prompt.
///
/// Transfers use the "plain" session algorithm: the session bus is a socket private to the user, and any
/// process of that user may ask the Secret Service for the same secret, so encrypting the transfer would
/// protect nothing that mailcred's threat model covers — but it costs a Diffie-Hellman exchange on every
/// `get`. Every call has a deadline, and so does every prompt, so a hung keyring daemon is an error.
final class SecretServiceBus: @unchecked Sendable {
  static let service = "org.freedesktop.secrets"
  static let servicePath = "/org/freedesktop/secrets"
  static let timeoutMilliseconds: Int32 = 5000
  private static let serviceInterface = "org.freedesktop.Secret.Service"
  private static let properties = "org.freedesktop.DBus.Properties"

  let connection: OpaquePointer
  private var session: String?
  /// Whether the service has answered a SearchItems on this connection. gnome-keyring (42 to 50 at least;
  /// upstream issues 190, 196) registers a new client from an idle callback that its method dispatch can
  /// beat: a call handled before it finds no client record. SearchItems then fails with UnknownMethod;
  /// OpenSession aborts the whole daemon (`plain_negotiate: assertion 'session' failed`, then g_variant_new
  /// of a NULL), ReadAlias answers "/" (no default collection) — measured here with six programs writing one
  /// account at once. A SearchItems answered proves the record exists, and it stays until the connection
  /// closes, so every other call waits for one (`call`).
  private var registered = false
  /// How often a SearchItems refused for that reason is asked again, a few milliseconds apart.
  private static let registrationRetries = 5

  /// The session bus, or the bus at `address` (tests run a second Secret Service on a bus of its own).
  init(address: String? = nil) throws(KeyringError) {
    // Every GLib call comes after this one (CGLibLazy).
    if let failure = mailcred_glib_load() { throw .unavailable(String(cString: failure)) }
    let bus: OpaquePointer?
    if let address {
      let flags = GDBusConnectionFlags(
        rawValue: G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT.rawValue
          | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION.rawValue)
      bus = try throwingGError { error in g_dbus_connection_new_for_address_sync(address, flags, nil, nil, error) }
    } else {
      bus = try throwingGError { error in g_bus_get_sync(G_BUS_TYPE_SESSION, nil, error) }
    }
    guard let bus else { throw .unavailable("no session bus") }
    connection = bus
  }

  deinit { g_object_unref(UnsafeMutableRawPointer(connection)) }

  // MARK: Reading

  /// `SearchItems`: the matching item paths, unlocked and locked.
  func searchItems(_ attributes: [String: String]) throws(KeyringError) -> (unlocked: [String], locked: [String]) {
    var attempt = 0
    while true {
      let reply: OpaquePointer
      do throws(KeyringError) {
        reply = try call(Self.servicePath, Self.serviceInterface, "SearchItems", [stringDictionary(attributes)])
      } catch {
        // The Service object does not vanish: UnknownMethod here, before any answer, is the registration
        // race (`registered`); the idle that registers the client runs within a main-loop iteration.
        guard error == .itemVanished, !registered, attempt < Self.registrationRetries else { throw error }
        attempt += 1
        usleep(UInt32(5_000 * attempt))
        continue
      }
      defer { g_variant_unref(reply) }
      registered = true
      return (objectPaths(child(reply, 0)), objectPaths(child(reply, 1)))
    }
  }

  /// `GetSecrets` for the given unlocked items, as raw bytes. The reply's copy is wiped before release.
  func secrets(of paths: [String]) throws(KeyringError) -> [String: SecretBytes] {
    guard !paths.isEmpty else { return [:] }
    let session = try plainSession()
    let reply = try call(
      Self.servicePath, Self.serviceInterface, "GetSecrets",
      [objectPathArray(paths), g_variant_new_object_path(session)])
    defer { g_variant_unref(reply) }
    let dictionary = child(reply, 0)
    defer { g_variant_unref(dictionary) }
    var result: [String: SecretBytes] = [:]
    for index in 0..<g_variant_n_children(dictionary) {
      let entry = g_variant_get_child_value(dictionary, index)!
      defer { g_variant_unref(entry) }
      let path = string(child(entry, 0))
      let secret = child(entry, 1)  // (oayays)
      defer { g_variant_unref(secret) }
      let value = child(secret, 2)
      defer { g_variant_unref(value) }
      var length = 0
      if let bytes = g_variant_get_fixed_array(value, &length, 1) {
        result[path] = SecretBytes(taking: [UInt8](UnsafeRawBufferPointer(start: bytes, count: length)))
        // GVariant data is immutable by contract, but this buffer is ours alone and about to be freed.
        memset(UnsafeMutableRawPointer(mutating: bytes), 0, length)
      }
    }
    return result
  }

  /// `Properties.Get(Item, "Attributes")` for many items, pipelined (see `PipelinedReads`).
  func attributes(of paths: [String]) throws(KeyringError) -> [String: [String: String]] {
    try PipelinedReads(connection: connection).attributes(of: paths)
  }

  /// The collection behind the `default` alias; nil when there is none.
  func defaultCollection() throws(KeyringError) -> String? {
    let alias = try call(Self.servicePath, Self.serviceInterface, "ReadAlias", [g_variant_new_string("default")])
    let path = string(child(alias, 0))
    g_variant_unref(alias)
    return path == "/" ? nil : path
  }

  /// Every collection and whether it is locked. A locked KeePassXC database answers `SearchItems` with
  /// nothing at all, so an empty search is only "nothing stored" once no collection is locked.
  func collections() throws(KeyringError) -> [(path: String, locked: Bool)] {
    let reply = try getProperty(Self.servicePath, Self.serviceInterface, "Collections")
    let paths = objectPaths(reply)
    var result: [(String, Bool)] = []
    for path in paths {
      do throws(KeyringError) {
        result.append((path, try isLocked(collection: path)))
      } catch {
        if error != .itemVanished { throw error }  // a collection deleted meanwhile is simply gone
      }
    }
    return result
  }

  func isLocked(collection path: String) throws(KeyringError) -> Bool {
    let value = try getProperty(path, "org.freedesktop.Secret.Collection", "Locked")
    defer { g_variant_unref(value) }
    return g_variant_get_boolean(value) != 0
  }

  /// The name of the process that owns the Secret Service on this bus (for messages: "found KeePassXC").
  func serviceOwnerCommand() -> String? {
    guard let reply = try? callBus("GetConnectionUnixProcessID", [g_variant_new_string(Self.service)]) else { return nil }
    let pidValue = child(reply, 0)
    let pid = g_variant_get_uint32(pidValue)
    g_variant_unref(pidValue)
    g_variant_unref(reply)
    var contents: UnsafeMutablePointer<gchar>?
    guard g_file_get_contents("/proc/\(pid)/comm", &contents, nil, nil) != 0, let contents else { return nil }
    defer { g_free(contents) }
    let name = String(cString: contents).trimmingSuffix("\n")
    return name.isEmpty ? nil : name
  }

  // MARK: Writing

  /// `Collection.CreateItem` with replace=false: the new item's path, or the prompt that will make it.
  func createItem(
    in collection: String, attributes: [String: String], label: String, secret: SecretBytes
  ) throws(KeyringError) -> (item: String, prompt: String) {
    let session = try plainSession()
    let properties = propertyDictionary([
      ("org.freedesktop.Secret.Item.Label", g_variant_new_string(label)),
      ("org.freedesktop.Secret.Item.Attributes", stringDictionary(attributes)),
    ])
    let reply = try call(
      collection, "org.freedesktop.Secret.Collection", "CreateItem",
      [properties, secretStruct(session: session, secret: secret), g_variant_new_boolean(0)])
    defer { g_variant_unref(reply) }
    return (string(child(reply, 0)), string(child(reply, 1)))
  }

  /// Sets an item's attributes through `Properties.Set`, and its label unless nil (each write costs
  /// gnome-keyring a rewrite of its file).
  func setAttributes(of path: String, _ attributes: [String: String], label: String?) throws(KeyringError) {
    var set: [(String, OpaquePointer)] = [("Attributes", stringDictionary(attributes))]
    if let label { set.append(("Label", g_variant_new_string(label))) }
    for (property, value) in set {
      let reply = try call(
        path, Self.properties, "Set",
        [g_variant_new_string("org.freedesktop.Secret.Item"), g_variant_new_string(property), g_variant_new_variant(value)])
      g_variant_unref(reply)
    }
  }

  /// `Item.Delete`: "/" when done, otherwise the prompt that will do it (KeePassXC always prompts).
  func delete(_ path: String) throws(KeyringError) -> String {
    let reply = try call(path, "org.freedesktop.Secret.Item", "Delete", [])
    defer { g_variant_unref(reply) }
    return string(child(reply, 0))
  }

  /// `Service.Unlock`: the objects already unlocked, and the prompt for the rest ("/" when none is needed).
  func unlock(_ paths: [String]) throws(KeyringError) -> (unlocked: [String], prompt: String) {
    let reply = try call(Self.servicePath, Self.serviceInterface, "Unlock", [objectPathArray(paths)])
    defer { g_variant_unref(reply) }
    return (objectPaths(child(reply, 0)), string(child(reply, 1)))
  }

  /// gnome-keyring's own way to unlock a collection with its password, without a prompt (ssh sessions).
  /// Other Secret Services do not have it: `.failed` with the D-Bus error name then.
  func unlockWithMasterPassword(_ collection: String, password: SecretBytes) throws(KeyringError) {
    let session = try plainSession()
    let reply = try call(
      Self.servicePath, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface", "UnlockWithMasterPassword",
      [g_variant_new_object_path(collection), secretStruct(session: session, secret: password)])
    g_variant_unref(reply)
  }

  /// Runs a prompt and waits for its `Completed` signal (see `SecretServicePrompt`).
  func runPrompt(_ path: String, timeout: Double) throws(KeyringError) -> PromptOutcome {
    try SecretServicePrompt(connection: connection, path: path).run(timeout: timeout)
  }

  // MARK: Plumbing

  private func plainSession() throws(KeyringError) -> String {
    if let session { return session }
    let reply = try call(
      Self.servicePath, Self.serviceInterface, "OpenSession",
      [g_variant_new_string("plain"), g_variant_new_variant(g_variant_new_string(""))])
    defer { g_variant_unref(reply) }
    let path = string(child(reply, 1))
    session = path
    return path
  }

  /// A property's value, unboxed from its variant.
  private func getProperty(_ path: String, _ interface: String, _ name: String) throws(KeyringError) -> OpaquePointer {
    let reply = try call(path, Self.properties, "Get", [g_variant_new_string(interface), g_variant_new_string(name)])
    defer { g_variant_unref(reply) }
    return unboxed(child(reply, 0))
  }

  /// A synchronous call with the deadline; the arguments' floating references are consumed. The first
  /// call of a connection other than SearchItems is preceded by a SearchItems that matches nothing, so
  /// that the service has registered this client before it handles the call (`registered`).
  func call(_ path: String, _ interface: String, _ method: String, _ arguments: [OpaquePointer]) throws(KeyringError) -> OpaquePointer {
    if !registered && method != "SearchItems" {
      do throws(KeyringError) { _ = try searchItems(["xdg:schema": "org.mailcred.RegistrationProbe"]) } catch {
        g_variant_unref(g_variant_ref_sink(tuple(arguments)))  // the arguments' floating references
        throw error
      }
    }
    let parameters = tuple(arguments)
    let reply = try throwingGError { error in
      g_dbus_connection_call_sync(
        connection, Self.service, path, interface, method, parameters, nil, G_DBUS_CALL_FLAGS_NO_AUTO_START,
        Self.timeoutMilliseconds, nil, error)
    }
    guard let reply else { throw .failed("\(method) returned nothing") }
    return reply
  }

  private func callBus(_ method: String, _ arguments: [OpaquePointer]) throws(KeyringError) -> OpaquePointer {
    let reply = try throwingGError { error in
      g_dbus_connection_call_sync(
        connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", method,
        tuple(arguments), nil, G_DBUS_CALL_FLAGS_NONE, Self.timeoutMilliseconds, nil, error)
    }
    guard let reply else { throw .failed("\(method) returned nothing") }
    return reply
  }
}

extension String {
  fileprivate func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}

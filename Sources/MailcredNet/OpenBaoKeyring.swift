#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

/// mailcred's keyring on an OpenBao/Vault KV v2 mount, shared by many machines.
///
/// Layout: one KV secret per item at `MOUNT/PREFIX/ACCOUNT/ITEM-ID` (a random id: `create` never
/// replaces); the secret is the data field `secret`; mailcred's attributes are the item's
/// `custom_metadata`. So `list`/`audit --offline` read metadata only (no secret crosses the wire, and an
/// auditor's policy needs no read on `data/`), and a server's policy names one account's path.
/// Attribute updates are metadata writes, which KV v2 cannot check-and-set: they are made under the
/// account's write lock, which on this store is itself a check-and-set record (`OpenBaoAccountLock`).
public struct OpenBaoKeyring: Keyring {
  let api: OpenBaoAPI
  public var settings: OpenBaoSettings { api.settings }
  var width: Int { max(1, settings.jobs) }

  public init(settings: OpenBaoSettings) { api = OpenBaoAPI(settings: settings) }

  // MARK: Paths

  func metadataPath(_ relative: String) -> String { "\(settings.mount)/metadata/\(settings.prefix)/\(relative)" }
  func dataPath(_ relative: String) -> String { "\(settings.mount)/data/\(settings.prefix)/\(relative)" }

  /// Item ids are `ACCOUNT/HEX`; the account is validated before it becomes a path segment.
  static func account(of attributes: [String: String]) throws(KeyringError) -> String {
    guard let account = attributes["account"], !account.isEmpty else { throw .invalidAttribute("an item needs an 'account'") }
    do { try validateAccountName(account) } catch { throw .invalidAttribute("account name: \(error)") }
    return account
  }

  // MARK: Reading

  public func search(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] {
    try SchemaAttribute.validate(query)
    var ids: [String]
    if let account = query["account"] {
      do { try validateAccountName(account) } catch { return [] }
      ids = try list(account + "/", what: "list the items of account '\(account)'").map { "\(account)/\($0)" }
    } else {
      let accounts = try list("", what: "list the accounts under \(settings.mount)/\(settings.prefix)")
        .filter { $0.hasSuffix("/") }
      let nested = OpenBaoWorkers.map(accounts.count, width: width) { index -> Result<[String], KeyringError> in
        do throws(KeyringError) {
          return .success(try self.list(accounts[index], what: "list account '\(accounts[index].dropLast())'").map { accounts[index] + $0 })
        } catch { return .failure(error) }
      }
      ids = []
      for result in nested { ids += try result.get() }
    }
    ids = ids.filter { id in !id.hasSuffix("/") && !(id.split(separator: "/").last ?? "").hasPrefix(".") }
    let items = OpenBaoWorkers.map(ids.count, width: width) { index in
      Result { () throws(KeyringError) in try self.metadata(ids[index]) }
    }
    var found: [KeyringItem] = []
    for item in items {
      guard let item = try item.get() else { continue }
      if query.allSatisfy({ item.attributes[$0.key] == $0.value }) { found.append(item) }
    }
    return found
  }

  /// The keys of one folder (`ACCOUNT/` entries end with a slash). An empty or missing folder is 404.
  func list(_ folder: String, what: String) throws(KeyringError) -> [String] {
    let answer = try api.call("LIST", metadataPath(folder), what: what)
    if answer.status == 404 { return [] }
    guard let keys = answer.json?["data"]?["keys"]?.array else { throw .failed("OpenBao: malformed answer to LIST \(folder)") }
    return keys.compactMap(\.text)
  }

  /// One item from its metadata, or nil when it is not a live item of mailcred's (deleted meanwhile, its
  /// version soft-deleted or destroyed, or a create that never wrote its attributes).
  func metadata(_ id: String) throws(KeyringError) -> KeyringItem? {
    guard let record = try record(id), record.deletedAt == nil else { return nil }
    return record.item
  }

  /// An item's metadata with, for a soft-deleted one, when it was deleted (RFC 3339 text) and its version.
  struct Record {
    var item: KeyringItem
    var version: Int
    var deletedAt: String?
  }

  func record(_ id: String) throws(KeyringError) -> Record? {
    let answer = try api.call("GET", metadataPath(id), what: "read the metadata of \(id)")
    guard answer.status != 404, let data = answer.json?["data"] else { return nil }
    guard let attributes = data["custom_metadata"]?.stringMap, attributes["account"] != nil else { return nil }
    let current = data["current_version"]?.integer ?? 1
    var deletedAt: String?
    if let version = data["versions"]?[String(current)] {
      if version["destroyed"].map({ if case .bool(true) = $0 { true } else { false } }) == true { return nil }
      if let time = version["deletion_time"]?.text, !time.isEmpty { deletedAt = time }
    }
    return Record(item: KeyringItem(id: id, attributes: attributes, locked: false), version: current, deletedAt: deletedAt)
  }

  public func lookup(_ query: [String: String]) throws(KeyringError) -> SecretBytes? {
    // Newest first, as the store's `current()` chooses when a crash left two.
    let found = try search(query).sorted { ($0.attributes["created"] ?? "") > ($1.attributes["created"] ?? "") }
    for item in found {
      do throws(KeyringError) { return try secret(of: item) } catch {
        if error != .itemVanished { throw error }
      }
    }
    return nil
  }

  public func secret(of item: KeyringItem) throws(KeyringError) -> SecretBytes {
    var answer = try api.call("GET", dataPath(item.id), what: "read the secret of \(item.id)")
    defer { answer.json?.wipe() }
    guard answer.status != 404 else { throw .itemVanished }
    guard case .string(let bytes)? = answer.json?["data"]?["data"]?["secret"] else {
      throw .failed("OpenBao item \(item.id) has no 'secret' field")
    }
    return SecretBytes(taking: bytes.withUnsafeBufferPointer { Array($0) })
  }

  // MARK: Writing

  public func create(attributes: [String: String], label: String, secret: SecretBytes) throws(KeyringError) -> KeyringItem {
    try SchemaAttribute.validate(attributes)
    let account = try Self.account(of: attributes)
    let id = "\(account)/\(OAuthCrypto.randomBytes(16).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined())"
    // The secret first, with cas=0 (refused if the path exists), then the attributes: a crash in between
    // leaves an item without attributes, which no search returns, never an attribute set without secret.
    // Escaping grows a byte at most sixfold: one buffer of that size, never moved.
    var body = SecretBuffer(capacity: 48 + 6 * secret.count)
    body.append(#"{"options":{"cas":0},"data":{"secret":"#)
    appendJSONString(secret, to: &body)
    body.append("}}")
    let written = try api.call("POST", dataPath(id), body: body.finish(), what: "write account '\(account)'")
    guard written.status != 404 else { throw .failed("OpenBao: no KV v2 mount '\(settings.mount)'") }
    do throws(KeyringError) {
      try writeAttributes(id, attributes, account: account)
    } catch {
      _ = try? api.call("DELETE", metadataPath(id), what: "clean up \(id)")
      throw error
    }
    return KeyringItem(id: id, attributes: attributes, locked: false)
  }

  public func update(_ item: KeyringItem, attributes: [String: String], label: String) throws(KeyringError) -> KeyringItem {
    try SchemaAttribute.validate(attributes)
    let account = try Self.account(of: attributes)
    guard item.id.hasPrefix(account + "/") else { throw .invalidAttribute("an item cannot move to another account") }
    // A metadata write would create the path anew: the item must still be there (under the account lock
    // no other mailcred can delete it between this read and the write).
    guard try metadata(item.id) != nil else { throw .itemVanished }
    try writeAttributes(item.id, attributes, account: account)
    return KeyringItem(id: item.id, attributes: attributes, locked: false)
  }

  private func writeAttributes(_ id: String, _ attributes: [String: String], account: String) throws(KeyringError) {
    let body = #"{"custom_metadata":"# + jsonObject(attributes) + "}"
    _ = try api.call("POST", metadataPath(id), body: SecretBytes(taking: Array(body.utf8)), what: "write account '\(account)'")
  }

  /// Nothing but mailcred writes under its prefix: no other tool's items to import.
  public func searchForeign(_ query: [String: String]) throws(KeyringError) -> [KeyringItem] { [] }

  /// A soft delete of the item's version (KV v2 keeps it, `restore` can bring it back); no search finds
  /// it. Of an account's deleted items the newest `keepDeleted` stay; older ones are destroyed, so that
  /// the history of a credential rotated every month does not grow without end.
  public func delete(_ item: KeyringItem) throws(KeyringError) {
    _ = try api.call("DELETE", dataPath(item.id), what: "delete \(item.id)")
    guard let account = item.attributes["account"] else { return }
    let old = try deletedRecords(account: account).dropFirst(Self.keepDeleted)
    for record in old {
      _ = try api.call("DELETE", metadataPath(record.item.id), what: "destroy the old deleted item \(record.item.id)")
    }
  }

  /// Deleted items kept per account (for `restore`).
  static let keepDeleted = 3

  /// The soft-deleted items of an account, most recently deleted first.
  func deletedRecords(account: String) throws(KeyringError) -> [Record] {
    do { try validateAccountName(account) } catch { return [] }
    let ids = try list(account + "/", what: "list the items of account '\(account)'")
      .filter { !$0.hasSuffix("/") && !$0.hasPrefix(".") }.map { "\(account)/\($0)" }
    let records = OpenBaoWorkers.map(ids.count, width: width) { index in
      Result { () throws(KeyringError) in try self.record(ids[index]) }
    }
    var deleted: [Record] = []
    for record in records {
      if let record = try record.get(), record.deletedAt != nil { deleted.append(record) }
    }
    // Newest deletion first (ties: newest creation).
    return deleted.sorted {
      (Self.sortable($0.deletedAt), $0.item.attributes["created"] ?? "") > (Self.sortable($1.deletedAt), $1.item.attributes["created"] ?? "")
    }
  }

  /// OpenBao's UTC RFC 3339 times drop trailing zeros of the fraction ("05.42Z", "05.425Z"): padded to
  /// nanoseconds they sort as text.
  static func sortable(_ time: String?) -> String {
    guard let time else { return "" }
    guard let dot = time.firstIndex(of: ".") else { return time.replacingZ(fraction: "") }
    let fraction = time[time.index(after: dot)...].prefix { $0.isNumber }
    return String(time[..<dot]).replacingZ(fraction: String(fraction))
  }
}

extension String {
  /// `2026-12-02T05:32:05` + a fraction padded to 9 digits (the zone is always Z here).
  fileprivate func replacingZ(fraction: String) -> String {
    let base = hasSuffix("Z") ? String(dropLast()) : self
    return base + "." + fraction + String(repeating: "0", count: max(0, 9 - fraction.count))
  }
}

extension OpenBaoKeyring: RecoverableKeyring {
  public func deleted(account: String) throws(KeyringError) -> [KeyringItem] {
    try deletedRecords(account: account).map(\.item)
  }

  public func undelete(_ item: KeyringItem) throws(KeyringError) -> KeyringItem {
    guard let record = try record(item.id), record.deletedAt != nil else { throw .itemVanished }
    let body = #"{"versions":[\#(record.version)]}"#
    _ = try api.call("POST", "\(settings.mount)/undelete/\(settings.prefix)/\(item.id)", body: SecretBytes(taking: Array(body.utf8)), what: "undelete \(item.id)")
    return record.item
  }
}

import CGLib
import MailcredCore

// GVariant construction and reading for the Secret Service's D-Bus types. Constructors return floating
// references (consumed by the call they are passed to); readers that say so release what they are given.

func tuple(_ children: [OpaquePointer]) -> OpaquePointer {
  children.map { Optional($0) }.withUnsafeBufferPointer { g_variant_new_tuple($0.baseAddress, gsize($0.count)) }
}

/// `a{ss}` from a dictionary.
func stringDictionary(_ dictionary: [String: String]) -> OpaquePointer {
  let entries: [OpaquePointer?] = dictionary.sorted { $0.key < $1.key }.map { key, value in
    g_variant_new_dict_entry(g_variant_new_string(key), g_variant_new_string(value))
  }
  return array(of: "{ss}", entries)
}

/// `a{sv}` from names and (floating) values.
func propertyDictionary(_ properties: [(String, OpaquePointer)]) -> OpaquePointer {
  let entries: [OpaquePointer?] = properties.map { name, value in
    g_variant_new_dict_entry(g_variant_new_string(name), g_variant_new_variant(value))
  }
  return array(of: "{sv}", entries)
}

func objectPathArray(_ paths: [String]) -> OpaquePointer {
  array(of: "o", paths.map { g_variant_new_object_path($0) })
}

private func array(of elementType: String, _ children: [OpaquePointer?]) -> OpaquePointer {
  let type = g_variant_type_new(elementType)
  defer { g_variant_type_free(type) }
  return children.withUnsafeBufferPointer { g_variant_new_array(type, $0.baseAddress, gsize($0.count)) }
}

/// A Secret Service secret struct `(oayays)` for the plain session. The value's bytes are copied into a
/// buffer that GLib frees through `wipeAndFree`, so the copy inside the message is zeroed when the message
/// goes, not left in freed memory.
func secretStruct(session: String, secret: SecretBytes) -> OpaquePointer {
  let value: OpaquePointer = secret.withUnsafeBytes { bytes in
    // Layout: [count: Int][bytes...]; the notify reads the count back to know what to zero.
    let size = MemoryLayout<Int>.size + bytes.count
    let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: MemoryLayout<Int>.alignment)
    block.storeBytes(of: bytes.count, as: Int.self)
    let data = block + MemoryLayout<Int>.size
    if let base = bytes.baseAddress { data.copyMemory(from: base, byteCount: bytes.count) }
    let type = g_variant_type_new("ay")
    defer { g_variant_type_free(type) }
    return g_variant_new_from_data(type, data, gsize(bytes.count), 1, wipeAndFree, block)!
  }
  // The plain algorithm has no parameters: an empty byte array.
  let noParameters = array(of: "y", [])
  return tuple([g_variant_new_object_path(session), noParameters, value, g_variant_new_string("text/plain")])
}

private let wipeAndFree: GDestroyNotify = { block in
  guard let block else { return }
  let count = block.load(as: Int.self)
  memset(block + MemoryLayout<Int>.size, 0, count)
  block.deallocate()
}

func child(_ value: OpaquePointer, _ index: gsize) -> OpaquePointer {
  g_variant_get_child_value(value, index)!
}

/// The string of a string or object-path value; releases `value`.
func string(_ value: OpaquePointer) -> String {
  defer { g_variant_unref(value) }
  return String(cString: g_variant_get_string(value, nil))
}

/// The paths of an `ao` value; releases `value`.
func objectPaths(_ value: OpaquePointer) -> [String] {
  defer { g_variant_unref(value) }
  return (0..<g_variant_n_children(value)).map { string(child(value, $0)) }
}

/// The content of a `v`; releases `value`.
func unboxed(_ value: OpaquePointer) -> OpaquePointer {
  defer { g_variant_unref(value) }
  return g_variant_get_variant(value)!
}

func readStringDictionary(_ dictionary: OpaquePointer) -> [String: String] {
  var result: [String: String] = [:]
  for index in 0..<g_variant_n_children(dictionary) {
    let entry = child(dictionary, index)
    result[string(child(entry, 0))] = string(child(entry, 1))
    g_variant_unref(entry)
  }
  return result
}

/// Whether `value` has the GVariant type `type` ("o", "ao", ...).
func hasType(_ value: OpaquePointer, _ type: String) -> Bool {
  String(cString: g_variant_get_type_string(value)) == type
}

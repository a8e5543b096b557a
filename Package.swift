// swift-tools-version:6.0
import Foundation
import PackageDescription

/// GLib's header directories, from pkg-config (`--cflags-only-I`): headers only, not its libraries, which
/// CGLibLazy loads on first use. A `pkgConfig:` system library would put -lgio-2.0 on every link line.
let glibIncludes: [String] = {
  let process = Process()
  let output = Pipe()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["pkg-config", "--cflags-only-I", "gio-2.0"]
  process.standardOutput = output
  guard (try? process.run()) != nil else { return [] }
  let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  return text.split(whereSeparator: \.isWhitespace).map(String.init)
}()
/// Advice interpolated into a plain String would print its debugging form; MailcredCore marks those
/// interpolations deprecated, and this makes each one a build error in every Swift target.
let adviceChecks: [SwiftSetting] = [.unsafeFlags(["-Werror", "DeprecatedDeclaration"])]
/// The same, for Swift targets that import CGLib directly or through MailcredKeyring.
let glibSwiftSettings: [SwiftSetting] = [.unsafeFlags(glibIncludes.flatMap { ["-Xcc", $0] })] + adviceChecks

let package = Package(
  name: "mailcred",
  products: [
    .executable(name: "mailcred", targets: ["mailcred"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2")
  ],
  targets: [
    // C boundaries: one system-library target per C library, shims only for what Swift cannot import.
    // GLib's headers (libglib2.0-dev), found through `glibIncludes`.
    .systemLibrary(name: "CGLib"),
    // GLib dlopen()ed on first use, as COpenSSL: `get`, `list` and the git helper's `get` speak D-Bus without
    // it (MailcredKeyring's DirectSecretService) and never map libgio, libgobject, libglib and their ~7
    // dependencies.
    .target(name: "CGLibLazy", dependencies: ["CGLib", "CLazyLoad"], cSettings: [.unsafeFlags(glibIncludes)]),
    // OpenSSL's headers, but no link to libssl/libcrypto: lazy.c dlopen()s libssl on first use, so the
    // commands that never speak TLS (`get`, `list`, the git helper) never map it. Needs libssl-dev.
    .target(name: "COpenSSL", dependencies: ["CLazyLoad"]),
    // What both lazily loaded libraries share: dlopen + dlsym into a table once, forwarders by X-macro.
    .target(name: "CLazyLoad"),
    // prctl(2) is variadic and cannot be called from Swift.
    .systemLibrary(name: "CProcess"),

    // The POSIX boundary: every system call's errno, the one clock, file descriptors, process limits.
    .target(name: "MailcredSystem", dependencies: ["CProcess"], swiftSettings: adviceChecks),
    // Pure Swift: model, presets, protocol state machines, codecs, audit and rotation logic.
    .target(name: "MailcredCore", swiftSettings: adviceChecks),
    // The only code that imports GLib (GDBus: the Secret Service), and the GLib-free D-Bus client of the reads.
    .target(
      name: "MailcredKeyring", dependencies: ["MailcredCore", "MailcredSystem", "CGLib", "CGLibLazy"], swiftSettings: glibSwiftSettings),
    // The only code that imports OpenSSL and sockets.
    .target(name: "MailcredNet", dependencies: ["MailcredCore", "MailcredSystem", "COpenSSL"], swiftSettings: adviceChecks),
    // The command line's spelling of the core's advice (commands and options as data): one table, shared by
    // the CLI and the tests that compare what users read.
    .target(name: "MailcredSpelling", dependencies: ["MailcredCore"], swiftSettings: adviceChecks),
    // Readers and line-exact writers of mail clients' configuration files (msmtp, mbsync, ...): pure Swift.
    .target(name: "MailcredConfig", dependencies: ["MailcredCore"], swiftSettings: adviceChecks),
    // Thin CLI.
    .executableTarget(
      name: "mailcred",
      dependencies: [
        "MailcredCore", "MailcredKeyring", "MailcredNet", "MailcredConfig", "MailcredSystem", "MailcredSpelling",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: glibSwiftSettings
    ),
    .testTarget(name: "MailcredCoreTests", dependencies: ["MailcredCore", "MailcredSpelling"], swiftSettings: adviceChecks),
    // The direct D-Bus client's wire code against scripted buses (no keyring needed).
    .testTarget(
      name: "MailcredKeyringTests", dependencies: ["MailcredKeyring", "MailcredCore"], swiftSettings: glibSwiftSettings),
    .testTarget(
      name: "MailcredConfigTests", dependencies: ["MailcredConfig", "MailcredCore", "MailcredSpelling"], exclude: ["Fixtures"],
      swiftSettings: adviceChecks),
    // Its scripted TLS servers call OpenSSL functions of their own, linked as usual.
    .testTarget(
      name: "MailcredNetTests", dependencies: ["MailcredNet", "MailcredCore", "MailcredSystem", "MailcredSpelling"],
      swiftSettings: adviceChecks, linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
    .testTarget(
      name: "MailcredIntegrationTests",
      dependencies: ["MailcredCore", "MailcredKeyring", "MailcredNet", "MailcredSpelling"],
      swiftSettings: glibSwiftSettings
    ),
  ]
)

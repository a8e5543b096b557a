// swift-tools-version:6.0
import PackageDescription

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
    .systemLibrary(name: "CGLib", pkgConfig: "gio-2.0", providers: [.apt(["libglib2.0-dev"])]),
    // OpenSSL's headers, but no link to libssl/libcrypto: lazy.c dlopen()s libssl on first use, so the
    // commands that never speak TLS (`get`, `list`, the git helper) never map it. Needs libssl-dev.
    .target(name: "COpenSSL"),
    // prctl(2) is variadic and cannot be called from Swift.
    .systemLibrary(name: "CProcess"),

    // The POSIX boundary: every system call's errno, the one clock, file descriptors, process limits.
    .target(name: "MailcredSystem", dependencies: ["CProcess"]),
    // Pure Swift: model, presets, protocol state machines, codecs, audit and rotation logic.
    .target(name: "MailcredCore"),
    // The only code that imports GLib (GDBus: the Secret Service).
    .target(name: "MailcredKeyring", dependencies: ["MailcredCore", "CGLib"]),
    // The only code that imports OpenSSL and sockets.
    .target(name: "MailcredNet", dependencies: ["MailcredCore", "MailcredSystem", "COpenSSL"]),
    // Readers and line-exact writers of mail clients' configuration files (msmtp, mbsync, ...): pure Swift.
    .target(name: "MailcredConfig", dependencies: ["MailcredCore"]),
    // Thin CLI.
    .executableTarget(
      name: "mailcred",
      dependencies: [
        "MailcredCore", "MailcredKeyring", "MailcredNet", "MailcredConfig", "MailcredSystem",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(name: "MailcredCoreTests", dependencies: ["MailcredCore"]),
    .testTarget(
      name: "MailcredConfigTests", dependencies: ["MailcredConfig", "MailcredCore"], exclude: ["Fixtures"]),
    // Its scripted TLS servers call OpenSSL functions of their own, linked as usual.
    .testTarget(
      name: "MailcredNetTests", dependencies: ["MailcredNet", "MailcredCore", "MailcredSystem"],
      linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
    .testTarget(
      name: "MailcredIntegrationTests",
      dependencies: ["MailcredCore", "MailcredKeyring", "MailcredNet"]
    ),
  ]
)

import Foundation

/// A dbus-daemon of a test's own, in a temp dir: nobody on it unless the test puts a service there (no
/// service files, so nothing is activated). Ended with SIGKILL, since a child of the test runner inherits
/// its blocked SIGTERM.
final class PrivateBus {
  let directory: String
  let address: String
  private let daemon = Process()

  init(_ prefix: String) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(Harness.uniqueName(prefix)).path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let socket = directory + "/bus"
    address = "unix:path=\(socket)"
    try """
      <busconfig><type>session</type><listen>\(address)</listen><auth>EXTERNAL</auth>
      <policy context="default"><allow send_destination="*"/><allow own="*"/><allow receive_sender="*"/></policy></busconfig>
      """.write(toFile: directory + "/bus.conf", atomically: true, encoding: .utf8)
    daemon.executableURL = URL(fileURLWithPath: "/usr/bin/dbus-daemon")
    daemon.arguments = ["--config-file=\(directory)/bus.conf", "--nofork", "--nopidfile"]
    try daemon.run()
    let started = Date()
    while !FileManager.default.fileExists(atPath: socket) && Date().timeIntervalSince(started) < 5 { usleep(20_000) }
  }

  deinit {
    kill(daemon.processIdentifier, SIGKILL)
    daemon.waitUntilExit()
    try? FileManager.default.removeItem(atPath: directory)
  }
}

import Foundation
import MailcredCore
import Testing

/// A scrape of node_exporter's /metrics: every sample as name, labels, value.
struct Scrape {
  struct Sample {
    var name: String
    var labels: [String: String]
    var value: Double
  }

  var samples: [Sample] = []
  var text: String

  /// Parses the text exposition format (what node_exporter serves): `name{a="x",b="y"} value`.
  init(_ text: String) throws {
    self.text = text
    for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
      var chars = Array(line.unicodeScalars)
      var index = 0
      var name = ""
      while index < chars.count, chars[index] != "{", chars[index] != " " { name.unicodeScalars.append(chars[index]); index += 1 }
      var labels: [String: String] = [:]
      if index < chars.count, chars[index] == "{" {
        index += 1
        while index < chars.count, chars[index] != "}" {
          var key = ""
          while chars[index] != "=" { key.unicodeScalars.append(chars[index]); index += 1 }
          index += 2  // ="
          var value = ""
          while chars[index] != "\"" {
            if chars[index] == "\\" {
              index += 1
              value += chars[index] == "n" ? "\n" : String(chars[index])
            } else {
              value.unicodeScalars.append(chars[index])
            }
            index += 1
          }
          index += 1
          if chars[index] == "," { index += 1 }
          labels[key] = value
        }
        index += 1
      }
      chars = Array(chars[index...])
      let rest = String(String.UnicodeScalarView(chars)).trimmingCharacters(in: .whitespaces)
      let value = try #require(Double(rest.split(separator: " ").first.map(String.init) ?? ""), "value of \(line)")
      samples.append(Sample(name: name, labels: labels, value: value))
    }
  }

  func values(_ name: String, _ labels: [String: String]) -> [Double] {
    samples.filter { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }.map(\.value)
  }

  func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
    let found = values(name, labels)
    return found.count == 1 ? found[0] : nil
  }
}

enum Monitoring {
  static let nodeExporter = "/usr/bin/prometheus-node-exporter"
  static let promtool = "/usr/bin/promtool"
  static var available: Bool {
    OAuthServer.available && FileManager.default.isExecutableFile(atPath: nodeExporter)
      && FileManager.default.isExecutableFile(atPath: promtool)
  }

  /// GET over loopback with Debian's python (no proxy, a deadline); nil when nothing answers.
  static func fetch(_ url: String) throws -> String? {
    let got = try Harness.run("/usr/bin/python3", ["-c", """
      import sys, urllib.request
      opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
      sys.stdout.write(opener.open(sys.argv[1], timeout=5).read().decode())
      """, url], environment: ["http_proxy": nil, "HTTP_PROXY": nil], deadline: 15)
    return got.status == 0 ? got.stdout : nil
  }

  /// The plugin guidelines' perfdata: space-separated `'label'=value[UOM];[warn];[crit];[min];[max]`.
  static func perfdataIsValid(_ text: String) -> Bool {
    let number = #"-?[0-9]+(\.[0-9]+)?"#
    let range = #"@?(~|\#(number))?:?(\#(number))?"#
    let item = #"('([^'=]|'')+'|[^ '=]+)=\#(number)(s|ms|us|%|B|KB|MB|TB|c)?(;(\#(range))?){0,2}(;(\#(number))?){0,2}"#
    let regex = try! Regex(item)
    return !text.isEmpty && text.split(separator: " ").allSatisfy { $0.wholeMatch(of: regex) != nil }
  }
}

/// node_exporter's textfile collector, started on a directory of its own.
final class NodeExporter {
  let process = Process()
  let port: Int

  init(directory: String, log: String) throws {
    port = try closedLoopbackPort()
    process.executableURL = URL(fileURLWithPath: Monitoring.nodeExporter)
    process.arguments = [
      "--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults", "--collector.textfile",
      "--collector.textfile.directory=\(directory)",
    ]
    try #require(FileManager.default.createFile(atPath: log, contents: nil))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
  }

  /// /metrics once it answers (node_exporter is up within a second).
  func scrape() throws -> Scrape {
    let end = Date().addingTimeInterval(10)
    while Date() < end {
      if let text = try Monitoring.fetch("http://127.0.0.1:\(port)/metrics") { return try Scrape(text) }
      Thread.sleep(forTimeInterval: 0.1)
    }
    Issue.record("node_exporter did not answer on 127.0.0.1:\(port)")
    throw CancellationError()
  }

  /// SIGKILL: a child of the test runner inherits its blocked SIGTERM (see AccountCommandTests).
  func stop() {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }
}

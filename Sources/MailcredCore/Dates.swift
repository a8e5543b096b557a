#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// Dates are stored as RFC 3339 UTC strings in keyring attributes. The arithmetic below is done on civil
// (proleptic Gregorian) dates so that no calendar or locale machinery — and no ICU — is loaded.

/// A calendar day in UTC.
struct CivilDate: Equatable {
  var year: Int
  var month: Int
  var day: Int

  /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
  var daysSinceEpoch: Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
  }

  init(year: Int, month: Int, day: Int) {
    self.year = year
    self.month = month
    self.day = day
  }

  init(daysSinceEpoch z0: Int) {
    let z = z0 + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    day = doy - (153 * mp + 2) / 5 + 1
    month = mp < 10 ? mp + 3 : mp - 9
    year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  }

  static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }
}

public enum RFC3339 {
  /// `2026-11-30T10:29:01Z`: whole seconds, always UTC.
  public static func format(_ date: Date) -> String {
    let seconds = Int(date.timeIntervalSince1970.rounded(.down))
    let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
    let rest = seconds - days * 86400
    let civil = CivilDate(daysSinceEpoch: days)
    func two(_ n: Int) -> String { String(n).leftPadded(to: 2) }
    return "\(String(civil.year).leftPadded(to: 4))-\(two(civil.month))-\(two(civil.day))T"
      + "\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
  }

  /// `YYYY-MM-DD` (midnight UTC) or full RFC 3339 with `Z` or a numeric offset, optional fraction.
  public static func parse(_ text: String) -> Date? {
    let bytes = Array(text.utf8)
    func number(_ range: Range<Int>) -> Int? {
      guard range.upperBound <= bytes.count else { return nil }
      var value = 0
      for b in bytes[range] {
        guard b >= 48 && b <= 57 else { return nil }
        value = value * 10 + Int(b - 48)
      }
      return value
    }
    guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
      let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
      (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day)
    else { return nil }
    var seconds = CivilDate(year: year, month: month, day: day).daysSinceEpoch * 86400
    if bytes.count == 10 { return Date(timeIntervalSince1970: Double(seconds)) }
    guard bytes.count >= 20, bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == 32,
      bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
      let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
      hour < 24, minute < 60, second < 61
    else { return nil }
    seconds += hour * 3600 + minute * 60 + second
    var index = 19
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      index += 1
      let start = index
      while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
      if index == start { return nil }
    }
    guard index < bytes.count else { return nil }
    switch bytes[index] {
    case UInt8(ascii: "Z"), UInt8(ascii: "z"):
      guard index + 1 == bytes.count else { return nil }
    case UInt8(ascii: "+"), UInt8(ascii: "-"):
      guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
        let oh = number(index + 1..<index + 3), let om = number(index + 4..<index + 6), oh < 24, om < 60
      else { return nil }
      let offset = oh * 3600 + om * 60
      seconds += bytes[index] == UInt8(ascii: "+") ? -offset : offset
    default:
      return nil
    }
    return Date(timeIntervalSince1970: Double(seconds))
  }
}

/// A validity period such as `90d`, `12w`, `6m` or `1y`.
public struct Duration: Equatable, Sendable, CustomStringConvertible {
  public enum Unit: Character, Sendable { case day = "d", week = "w", month = "m", year = "y" }
  public var count: Int
  public var unit: Unit

  public init(count: Int, unit: Unit) {
    self.count = count
    self.unit = unit
  }

  public static func parse(_ text: String) throws(InputError) -> Duration {
    guard let last = text.last, let unit = Unit(rawValue: last),
      let count = Int(text.dropLast()), count > 0, count <= 100 * 366, text.dropLast().allSatisfy(\.isASCII)
    else {
      throw .invalid("duration", text, "use a positive number and a unit: 90d, 12w, 6m or 1y")
    }
    return Duration(count: count, unit: unit)
  }

  public var description: String { "\(count)\(unit.rawValue)" }

  /// The date this long after `date`. Months and years keep the day of month, clamped to the month's end.
  public func after(_ date: Date) -> Date {
    switch unit {
    case .day: return date.addingTimeInterval(Double(count) * 86400)
    case .week: return date.addingTimeInterval(Double(count) * 7 * 86400)
    case .month, .year:
      let months = unit == .month ? count : count * 12
      let seconds = Int(date.timeIntervalSince1970.rounded(.down))
      let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
      let timeOfDay = date.timeIntervalSince1970 - Double(days * 86400)
      var civil = CivilDate(daysSinceEpoch: days)
      let total = civil.year * 12 + (civil.month - 1) + months
      civil.year = total / 12
      civil.month = total % 12 + 1
      civil.day = min(civil.day, CivilDate.daysIn(month: civil.month, year: civil.year))
      return Date(timeIntervalSince1970: Double(civil.daysSinceEpoch * 86400) + timeOfDay)
    }
  }
}

/// Parses a user-given DATE (`YYYY-MM-DD` or RFC 3339), with a one-line error.
public func parseUserDate(_ text: String, option: String) throws(InputError) -> Date {
  guard let date = RFC3339.parse(text) else {
    throw .invalid(option, text, "expected YYYY-MM-DD or an RFC 3339 time such as 2026-12-31T12:00:00Z")
  }
  return date
}

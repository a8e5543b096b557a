import Foundation
import Testing

@testable import MailcredCore

@Suite struct DatesTests {
  @Test(arguments: [
    ("2026-11-30", "2026-11-30T00:00:00Z"),
    ("2026-11-30T10:29:01Z", "2026-11-30T10:29:01Z"),
    ("2026-11-30T10:29:01.123Z", "2026-11-30T10:29:01Z"),
    ("2026-11-30T12:29:01+02:00", "2026-11-30T10:29:01Z"),
    ("2026-11-30T00:00:00-01:30", "2026-11-30T01:30:00Z"),
    ("2024-02-29", "2024-02-29T00:00:00Z"),
    ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
  ])
  func parsesAndFormatsUTC(input: String, expected: String) throws {
    let date = try #require(RFC3339.parse(input))
    #expect(RFC3339.format(date) == expected)
  }

  @Test(arguments: [
    "", "2026", "2026-13-01", "2026-02-30", "2025-02-29", "2026-11-30T25:00:00Z", "2026-11-30T10:29:01",
    "2026-11-30T10:29:01+0200", "30/11/2026", "2026-11-30Z", "2026-11-30T10:29:01Zjunk", "２０２６-11-30",
  ])
  func rejectsMalformedDates(input: String) {
    #expect(RFC3339.parse(input) == nil)
    #expect(throws: InputError.self) { try parseUserDate(input, option: "--expires") }
  }

  @Test func formatMatchesFoundationForManyDays() {
    // Cross-check the civil-date arithmetic against Foundation's ISO 8601 formatter.
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    for step in stride(from: -40_000, through: 40_000, by: 37) {
      let date = Date(timeIntervalSince1970: Double(step) * 86_400 + Double(step % 86_400))
      #expect(RFC3339.format(date) == formatter.string(from: date))
    }
  }

  @Test(arguments: [
    ("90d", "2026-01-31T08:00:00Z", "2026-05-01T08:00:00Z"),
    ("2w", "2026-01-31T08:00:00Z", "2026-02-14T08:00:00Z"),
    ("1m", "2026-01-31T08:00:00Z", "2026-02-28T08:00:00Z"),
    ("1m", "2024-01-31T08:00:00Z", "2024-02-29T08:00:00Z"),
    ("6m", "2026-11-30T10:00:00Z", "2027-05-30T10:00:00Z"),
    ("1y", "2024-02-29T00:00:00Z", "2025-02-28T00:00:00Z"),
  ])
  func durationsAddCalendarTime(duration: String, start: String, expected: String) throws {
    let parsed = try Duration.parse(duration)
    #expect(RFC3339.format(parsed.after(try #require(RFC3339.parse(start)))) == expected)
  }

  @Test(arguments: ["", "d", "90", "0d", "-5d", "90x", "1.5y", "99999999999d", "９0d"])
  func rejectsMalformedDurations(input: String) {
    #expect(throws: InputError.self) { try Duration.parse(input) }
  }

  @Test func expiryStatusWords() throws {
    let now = try #require(RFC3339.parse("2026-11-30T12:00:00Z"))
    #expect(ExpiryStatus(expires: nil, now: now) == .noExpiry)
    #expect(ExpiryStatus(expires: now.addingTimeInterval(10 * 86400), now: now) == .expiresSoon(daysLeft: 10))
    #expect(ExpiryStatus(expires: now.addingTimeInterval(30 * 86400), now: now) == .valid(daysLeft: 30))
    #expect(ExpiryStatus(expires: now.addingTimeInterval(-3 * 86400 - 5), now: now) == .expired(daysAgo: 3))
    #expect(ExpiryStatus(expires: now.addingTimeInterval(-3 * 86400 - 5), now: now).description == "expired 3 days ago")
    #expect(ExpiryStatus(expires: now.addingTimeInterval(3600), now: now).description == "expires in 1 day")
  }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

typealias MailcredDate = Date

/// The current time; one function so that every command reads the clock the same way.
func now() -> Date { Date() }

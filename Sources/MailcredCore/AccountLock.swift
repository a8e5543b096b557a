/// Takes one account's write lock, waiting a bounded time for another writer, and returns its release.
/// The CLI's is a `flock` on `$XDG_RUNTIME_DIR/mailcred/ACCOUNT.lock`, shared by every mailcred process
/// (and so by msmtp's, git's and cron's); `.none` is for a keyring only this process can see.
public struct AccountLocker: Sendable {
  public typealias Release = @Sendable () -> Void
  public let acquire: @Sendable (String) throws(MailcredError) -> Release

  public init(acquire: @escaping @Sendable (String) throws(MailcredError) -> Release) { self.acquire = acquire }

  public static let none = AccountLocker { _ throws(MailcredError) in {} }
}

/// The accounts whose lock the running task already holds: a write sequence calls other writes of the
/// same account (rotation deletes, replace records), and a `flock` taken twice by one process through two
/// descriptors would wait for itself. A task-local, not a global: concurrent tasks of one process (audit
/// recording results) each hold their own.
enum HeldAccountLocks {
  @TaskLocal static var accounts: Set<String> = []
}

extension CredentialStore {
  /// Runs `body` holding `account`'s write lock (taken here unless this task holds it already).
  public func writing<T>(account: String, _ body: () throws(MailcredError) -> T) throws(MailcredError) -> T {
    // The lock file is named for the account: a name no `add` could store is refused before any file.
    do { try validateAccountName(account) } catch { throw .input(error) }
    if HeldAccountLocks.accounts.contains(account) { return try body() }
    let release = try locker.acquire(account)
    defer { release() }
    let result: Result<T, MailcredError> = HeldAccountLocks.$accounts.withValue(
      HeldAccountLocks.accounts.union([account])
    ) { Result { () throws(MailcredError) in try body() } }
    return try result.get()
  }

  /// The same for a sequence that waits on the network in the middle (rotation's live check).
  public func writing<T: Sendable>(
    account: String, _ body: () async throws(MailcredError) -> T
  ) async throws(MailcredError) -> T {
    do { try validateAccountName(account) } catch { throw .input(error) }
    if HeldAccountLocks.accounts.contains(account) { return try await body() }
    let release = try locker.acquire(account)
    defer { release() }
    let result: Result<T, MailcredError> = await HeldAccountLocks.$accounts.withValue(
      HeldAccountLocks.accounts.union([account])
    ) {
      do throws(MailcredError) { return .success(try await body()) } catch { return .failure(error) }
    }
    return try result.get()
  }
}

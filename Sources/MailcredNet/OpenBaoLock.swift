#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MailcredCore

/// The per-account write lock on a shared store. The local `flock` serialises the writers of one machine;
/// writers on other machines meet at `MOUNT/PREFIX/ACCOUNT/.lock`, a KV record created with check-and-set
/// version 0: exactly one writer's create succeeds, the others wait. Released by deleting the record
/// (every version, so the next cas=0 create works). A holder that died leaves a record older than
/// `staleAfter` seconds, which the next writer takes over, again by check-and-set on the version it read,
/// so two writers never both take it.
public enum OpenBaoAccountLock {
  public static func locker(_ keyring: OpenBaoKeyring, local: AccountLocker, timeout: Double, staleAfter: Double = 300) -> AccountLocker {
    AccountLocker { account throws(MailcredError) in
      let releaseLocal = try local.acquire(account)
      do throws(MailcredError) {
        let releaseShared = try acquire(keyring, account: account, timeout: timeout, staleAfter: staleAfter)
        return {
          releaseShared()
          releaseLocal()
        }
      } catch {
        releaseLocal()
        throw error
      }
    }
  }

  static func acquire(_ keyring: OpenBaoKeyring, account: String, timeout: Double, staleAfter: Double) throws(MailcredError) -> AccountLocker.Release {
    let path = "\(account)/.lock"
    let started = now()
    var pause = 0.02
    let release: AccountLocker.Release = { _ = try? keyring.api.call("DELETE", keyring.metadataPath(path), what: "unlock account '\(account)'") }
    while true {
      let version = try holderVersion(keyring, path: path, staleAfter: staleAfter)
      // Ours already: a write that a failing node applied before the request went to the next one.
      if version == -1 { return release }
      if let version {
        let record = #"{"options":{"cas":\#(version)},"data":{"holder":"\#(holder())","since":"\#(Int(now()))"}}"#
        let answer: OpenBaoAPI.Answer
        do {
          answer = try keyring.api.call("POST", keyring.dataPath(path), body: SecretBytes(taking: Array(record.utf8)), what: "lock account '\(account)'")
        } catch {
          // A cas mismatch is HTTP 400: someone else took it first; anything else is the store's error.
          if case .failed(let why) = error, why.contains("HTTP 400") { answer = OpenBaoAPI.Answer(status: 400, json: nil) } else { throw .keyring(error) }
        }
        if answer.status / 100 == 2 { return release }
      }
      if now() - started > timeout { throw .accountBusy(account, Int(timeout.rounded())) }
      usleep(useconds_t(pause * 1e6 * Double.random(in: 0.5...1.5)))
      pause = min(pause * 2, 0.5)
    }
  }

  /// The check-and-set version to write the lock with: 0 when nobody holds it, the record's current version
  /// when its holder is stale (taken over), nil while a live holder has it, -1 when this process holds it.
  private static func holderVersion(_ keyring: OpenBaoKeyring, path: String, staleAfter: Double) throws(MailcredError) -> Int? {
    let answer: OpenBaoAPI.Answer
    do { answer = try keyring.api.call("GET", keyring.dataPath(path), what: "read the lock of \(path.dropLast(6))") } catch {
      throw .keyring(error)
    }
    guard answer.status != 404, let data = answer.json?["data"] else {
      // Missing, or a deleted version whose metadata remains: that version, or 0.
      let current = answer.json?["data"]?["metadata"]?["version"]?.integer
      return current ?? 0
    }
    if data["data"]?["holder"]?.text == holder() { return -1 }
    let since = data["data"]?["since"]?.text.flatMap { Double($0) } ?? 0
    if now() - since > staleAfter { return data["metadata"]?["version"]?.integer ?? 0 }
    return nil
  }

  /// This process's name in the record: host, pid and a random nonce (a pid is reused, a nonce is not).
  private static func holder() -> String { holderName }

  private static let holderName: String = {
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, 255)
    let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      .filter { $0.isLetter || $0.isNumber || "-._".contains($0) }
    return "\(host) pid \(getpid()) \(UInt32.random(in: 0...UInt32.max))"
  }()

  private static func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }
}

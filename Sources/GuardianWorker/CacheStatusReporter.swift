import GuardianPostgres
import GuardianStores
import Logging

/// Reports whether this worker's Redis cache is stale to `guardian_cache_status` about every
/// `interval`, at once when it changes, on a connection of its own (a report that fails is retried
/// on the next tick; nothing waits on it).
struct CacheStatusReporter: Sendable {
    let postgres: PostgresConfiguration
    let worker: String
    let cache: CacheLink
    let interval: Duration
    let logger: Logger

    func run() async {
        var connection: PostgresConnection?
        var last: Bool?
        var lastReport = ContinuousClock.now
        var failing = false
        while !Task.isCancelled {
            let stale = cache.isStale
            if stale != last || ContinuousClock.now - lastReport >= interval {
                do {
                    let c: PostgresConnection
                    if let connection { c = connection } else { c = try await PostgresConnection.connect(postgres) }
                    if connection == nil { _ = try? await CacheStatus(connection: c).prune() }
                    connection = c
                    try await CacheStatus(connection: c).report(worker: worker, stale: stale)
                    last = stale
                    lastReport = .now
                    if failing { logger.info("reporting the cache status again") }
                    failing = false
                } catch {
                    connection = nil
                    if Task.isCancelled { return }  // shutting down: the call was abandoned
                    if !failing { logger.warning("cannot report the cache status to the database", metadata: ["error": "\(error)"]) }
                    failing = true
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}

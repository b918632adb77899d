import GuardianStores
import Synchronization

/// Whether any worker reports the Redis cache stale (`guardian_cache_status`), read at most once per
/// `ttl`: while it is, state reads skip Redis, which may answer and still be behind the database.
/// When the database cannot say, the last answer stands.
final class CacheStaleness: Sendable {
    private struct Cached {
        var workers: [(worker: String, since: String)] = []
        var readAt: ContinuousClock.Instant?
    }

    private let pool: DatabasePool
    private let ttl: Duration
    private let cached = Mutex(Cached())

    init(pool: DatabasePool, ttl: Duration = .seconds(1)) {
        self.pool = pool
        self.ttl = ttl
    }

    /// The workers whose cache is stale now (name, since when).
    func staleWorkers() async -> [(worker: String, since: String)] {
        let now = ContinuousClock.now
        if let c = cached.withLock({ $0.readAt.map { now - $0 < ttl } == true ? $0.workers : nil }) { return c }
        let workers = try? await pool.run { try await CacheStatus(connection: $0).staleWorkers() }
        return cached.withLock { c in
            if let workers { c.workers = workers }
            c.readAt = now
            return c.workers
        }
    }

    var isStale: Bool { get async { await !staleWorkers().isEmpty } }
}

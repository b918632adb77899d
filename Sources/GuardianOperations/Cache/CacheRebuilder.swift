import GuardianPostgres
import GuardianRedis
import GuardianStores

/// `guardian cache rebuild`: writes the latest stored row of each symbol from the database into Redis
/// through the cache's seq guard (a newer state already in Redis stays), and restores `guardian:symbols`.
public struct CacheRebuilder: Sendable {
    public let postgres: PostgresConfiguration
    public let redis: RedisConfiguration

    public init(postgres: PostgresConfiguration, redis: RedisConfiguration) {
        self.postgres = postgres
        self.redis = redis
    }

    /// What a rebuild did.
    public struct Result: Sendable, Equatable {
        /// Symbols found in the database.
        public var symbols: Int
        /// States written (missing or older in Redis).
        public var updated: Int
        /// States Redis already had at that seq or newer.
        public var current: Int { symbols - updated }
    }

    /// Rebuilds every symbol, or only `symbols`.
    public func rebuild(symbols: [String]? = nil, chunk: Int = 500) async throws -> Result {
        let db = try await PostgresConnection.connect(postgres)
        let cache = StateCache(connection: try await RedisConnection.connect(redis))
        let latest = try await LatestState.read(db, symbols: symbols)
        var updated = 0
        for start in stride(from: 0, to: latest.count, by: max(1, chunk)) {
            updated += try await cache.apply(latest[start..<min(latest.count, start + chunk)])
        }
        return Result(symbols: latest.count, updated: updated)
    }
}

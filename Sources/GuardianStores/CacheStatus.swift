import GuardianPostgres

/// `guardian_cache_status` (migration 0011): each worker's report of whether the Redis cache is stale
/// for it, so readers of Redis (the API) know when its answers may be behind the database.
public struct CacheStatus: Sendable {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Records `worker`'s report; `since` moves only when `stale` changes.
    public func report(worker: String, stale: Bool) async throws {
        try await connection.query("""
            INSERT INTO guardian_cache_status AS s (worker_id, stale) VALUES ($1, $2::boolean)
            ON CONFLICT (worker_id) DO UPDATE
            SET since = CASE WHEN s.stale = EXCLUDED.stale THEN s.since ELSE now() END, stale = EXCLUDED.stale, reported_at = now()
            """, [worker, stale ? "true" : "false"])
    }

    /// Workers that reported a stale cache within the last `seconds`, with the time it became stale (RFC 3339).
    public func staleWorkers(reportedWithinSeconds seconds: Int = 10) async throws -> [(worker: String, since: String)] {
        try await connection.query("""
            SELECT worker_id, to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM guardian_cache_status
            WHERE stale AND reported_at > now() - $1::int * interval '1 second' ORDER BY worker_id
            """, [String(seconds)]).rows.compactMap { r in r[0].flatMap { w in r[1].map { (w, $0) } } }
    }

    /// Every worker that reported within the last `seconds` (so is running): name, whether its cache
    /// is stale, when it last reported (RFC 3339).
    public func workers(reportedWithinSeconds seconds: Int = 10) async throws -> [(worker: String, stale: Bool, reportedAt: String)] {
        try await connection.query("""
            SELECT worker_id, stale, to_char(reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM guardian_cache_status
            WHERE reported_at > now() - $1::int * interval '1 second' ORDER BY worker_id
            """, [String(seconds)]).rows.compactMap { r in
                guard let w = r[0], let s = r[1], let at = r[2] else { return nil }
                return (w, s == "t", at)
            }
    }

    /// Forgets workers that have not reported for `hours` (worker ids such as `worker-<pid>` change with
    /// every start); returns how many.
    @discardableResult
    public func prune(silentForHours hours: Int = 24) async throws -> Int {
        try await connection.query("DELETE FROM guardian_cache_status WHERE reported_at < now() - $1::int * interval '1 hour'",
                                   [String(hours)]).affectedRows
    }
}

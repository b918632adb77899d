import GuardianPostgres

/// Keeps the plain-PostgreSQL fallback's partitions in step with time: creates them ahead of now
/// and drops those past retention. A no-op with TimescaleDB, whose own jobs do this.
public struct PartitionMaintainer: Sendable {
    public let connection: PostgresConnection
    public let settings: StorageSettings

    public init(connection: PostgresConnection, settings: StorageSettings) {
        self.connection = connection
        self.settings = settings
    }

    /// Runs one round; returns (created, dropped), or nil when the database runs TimescaleDB.
    @discardableResult
    public func runOnce() async throws -> (created: Int, dropped: Int)? {
        let s = settings
        return try await connection.withSession { session in
            let timescale = try session.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").scalar != "0"
            if timescale { return nil }
            let created = try session.query(
                "SELECT guardian_ensure_partitions(now() - $1::interval, now() + $2::interval, $3::interval)",
                ["\(s.retention.seconds) seconds", "\(s.partitionsAhead.seconds) seconds", "\(s.chunkInterval.seconds) seconds"]).scalar
            let dropped = try session.query("SELECT guardian_drop_partitions_before(now() - $1::interval)",
                                            ["\(s.retention.seconds) seconds"]).scalar
            return (Int(created ?? "") ?? 0, Int(dropped ?? "") ?? 0)
        }
    }
}

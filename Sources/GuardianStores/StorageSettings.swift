import GuardianSupport

/// How events are kept in TimescaleDB / PostgreSQL.
public struct StorageSettings: Sendable, Equatable {
    /// Hypertable chunk interval, or the partition width without TimescaleDB. Default 1 hour.
    public var chunkInterval: Duration
    /// Rows older than this are dropped. Default 7 days; never under 24 hours.
    public var retention: Duration
    /// TimescaleDB compresses chunks older than this. Default 1 day.
    public var compressAfter: Duration
    /// Without TimescaleDB, partitions are created this far ahead of now. Default 1 day.
    public var partitionsAhead: Duration

    public static let minimumRetention: Duration = .seconds(24 * 3600)

    public init(
        chunkInterval: Duration = .seconds(3600), retention: Duration = .seconds(7 * 24 * 3600),
        compressAfter: Duration = .seconds(24 * 3600), partitionsAhead: Duration = .seconds(24 * 3600)
    ) {
        self.chunkInterval = chunkInterval
        self.retention = retention
        self.compressAfter = compressAfter
        self.partitionsAhead = partitionsAhead
    }

    /// Throws when a setting is out of bounds.
    public func validate() throws(StoreError) {
        if retention < Self.minimumRetention {
            throw StoreError(.configuration, "retention \(retention.seconds / 3600) h is under the 24 h minimum the audit trail needs")
        }
        if chunkInterval < .seconds(60) {
            throw StoreError(.configuration, "the chunk interval must be at least 60 s, not \(chunkInterval.seconds) s")
        }
        if compressAfter < .zero || partitionsAhead < .zero {
            throw StoreError(.configuration, "compress-after and partitions-ahead must not be negative")
        }
    }

    /// `SET LOCAL` statements that pass the settings to the SQL in schemas/.
    var sqlSettings: String {
        """
        SET LOCAL guardian.chunk_interval = '\(chunkInterval.seconds) seconds';
        SET LOCAL guardian.retention = '\(retention.seconds) seconds';
        SET LOCAL guardian.compress_after = '\(compressAfter.seconds) seconds';
        SET LOCAL guardian.partitions_ahead = '\(partitionsAhead.seconds) seconds';
        """
    }
}

extension Duration {
    /// Whole seconds.
    var seconds: Int64 { components.seconds }
}

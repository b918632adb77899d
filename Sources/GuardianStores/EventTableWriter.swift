import GuardianEvents
import GuardianPostgres
import Synchronization

/// Writes batches of events to `guardian_events` idempotently: binary COPY into a session-local
/// staging table, then `INSERT … SELECT … ON CONFLICT (event_id, ts) DO NOTHING`, in one transaction.
/// A redelivered event is absorbed as a no-op.
public final class EventTableWriter: Sendable {
    /// The columns in COPY order.
    static let columns = [
        "ts", "symbol", "seq", "event_id", "kind", "decision", "reason", "side", "qty", "price", "position",
        "exposure", "realized_pnl", "unrealized_pnl", "latency_us", "attrs", "kafka_partition", "kafka_offset", "ingested_at",
    ]
    static let columnList = columns.joined(separator: ", ")

    /// What one write did.
    public struct Result: Sendable, Equatable {
        /// Rows sent.
        public var staged: Int
        /// Rows that were new; `staged - inserted` were already stored (redelivery).
        public var inserted: Int

        public init(staged: Int, inserted: Int) {
            self.staged = staged
            self.inserted = inserted
        }
    }

    public let connection: PostgresConnection
    /// Whether this connection's session has the staging table already.
    private let prepared = Mutex(false)

    /// A writer over `connection`; keep one per connection (the staging table is per session).
    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Builds the binary COPY payload for `events` (CPU only; no I/O).
    public static func copyPayload(_ events: [StoredEvent], ingestedAtNanos: Int64) -> [UInt8] {
        var w = PostgresBinaryCopyWriter(reservingCapacity: events.count * 260 + 64)
        for s in events {
            let e = s.event
            w.beginRow(fields: columns.count)
            w.appendTimestamp(nanosecondsSinceEpoch: e.ts)
            w.appendText(e.symbol)
            w.appendInt64(e.seq)
            w.appendUUID((e.eventID.high, e.eventID.low))
            w.appendText(e.kind.rawValue)
            if let d = e.decision { w.appendText(d.rawValue) } else { w.appendNull() }
            if let r = e.reason { w.appendText(r) } else { w.appendNull() }
            if let side = e.side { w.appendText(side.rawValue) } else { w.appendNull() }
            for v in [e.qty, e.price, e.position, e.exposure, e.realizedPnl, e.unrealizedPnl] {
                if let v { w.appendFloat64(v) } else { w.appendNull() }
            }
            if let l = e.latencyUs { w.appendInt64(l) } else { w.appendNull() }
            if let a = e.attrs { w.appendJSONB(utf8: a.utf8) } else { w.appendNull() }
            w.appendInt32(s.partition)
            w.appendInt64(s.offset)
            w.appendTimestamp(nanosecondsSinceEpoch: ingestedAtNanos)
        }
        return w.finish()
    }

    /// Writes a prepared payload of `count` rows durably (committed) and returns how many were new.
    public func write(payload: [UInt8], count: Int) async throws -> Result {
        guard count > 0 else { return Result(staged: 0, inserted: 0) }
        let list = Self.columnList
        let prepare = !prepared.withLock { $0 }
        let result = try await connection.transaction { session in
            if prepare {
                // The staging table lives as long as the session; ON COMMIT DELETE ROWS empties it each batch.
                try session.execute("""
                    CREATE TEMP TABLE IF NOT EXISTS guardian_events_staging
                        (LIKE guardian_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
                    """)
            }
            let staged = try session.copyIn("COPY guardian_events_staging (\(list)) FROM STDIN (FORMAT binary)", data: payload)
            let inserted = try session.execute("""
                INSERT INTO guardian_events (\(list)) SELECT \(list) FROM guardian_events_staging
                ON CONFLICT (event_id, ts) DO NOTHING
                """).affectedRows
            return Result(staged: staged, inserted: inserted)
        }
        prepared.withLock { $0 = true }
        return result
    }

    /// Convenience: builds the payload and writes it.
    public func write(_ events: [StoredEvent], ingestedAtNanos: Int64) async throws -> Result {
        try await write(payload: Self.copyPayload(events, ingestedAtNanos: ingestedAtNanos), count: events.count)
    }
}

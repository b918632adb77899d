import Foundation
import GuardianEvents
import GuardianPostgres
import Synchronization

/// Writes batches of events to `guardian_events` idempotently, in one transaction per batch.
///
/// Fast path: binary COPY straight into the table (under a savepoint). When the batch holds an event
/// that is already stored (a redelivery after a crash or rebalance, a replay), the unique key
/// (event_id, ts) rejects the COPY; the writer rolls back to the savepoint and merges instead: COPY into
/// a session-local staging table, then `INSERT … SELECT … ON CONFLICT (event_id, ts) DO NOTHING`. After
/// a conflict it keeps merging for `mergeWindow`, since redeliveries come in runs.
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
    /// How long to use the merge path after a conflict.
    public let mergeWindow: Duration
    /// Whether this connection's session has the staging table already.
    private let prepared = Mutex(false)
    /// Merge (instead of trying COPY first) until this instant.
    private let mergeUntil = Mutex<ContinuousClock.Instant?>(nil)

    /// A writer over `connection`; keep one per connection (the staging table is per session).
    public init(connection: PostgresConnection, mergeWindow: Duration = .seconds(30)) {
        self.connection = connection
        self.mergeWindow = mergeWindow
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
    /// `checkpoints` (topic, partition, next offset) are recorded in `guardian_checkpoints` in the same
    /// transaction, never moving back.
    /// `deadLetters` are recorded in `guardian_dead_letters` in the same transaction. `notify` (e.g.
    /// `AlertNotice.statement(for:)`) runs in it too, so its notifications go out only on commit.
    public func write(
        payload: [UInt8], count: Int, checkpoints: [Checkpoint] = [],
        deadLetters: [DeadLetter] = [], notify: String? = nil
    ) async throws -> Result {
        guard count > 0 || !checkpoints.isEmpty || !deadLetters.isEmpty else { return Result(staged: 0, inserted: 0) }
        let checkpointSQL = [Self.checkpointStatement(checkpoints), DeadLetter.insertStatement(deadLetters), notify]
            .compactMap { $0 }.joined(separator: ";\n")
        let list = Self.columnList
        let prepare = !prepared.withLock { $0 }
        let now = ContinuousClock.now
        let tryDirect = mergeUntil.withLock { until in until.map { now >= $0 } ?? true }
        // Round trips matter per batch: BEGIN with the COPY, then the checkpoint and COMMIT in one message. A COPY
        // rejected by the unique key aborts that transaction; the batch is then merged in a new one.
        let finishSQL = (checkpointSQL.isEmpty ? "" : checkpointSQL + ";\n") + "COMMIT"
        let (result, conflicted, madeStaging) = try await connection.withSession { session -> (Result, Bool, Bool) in
            var conflicted = false
            if count > 0 && tryDirect {
                // BEGIN travels with the COPY (libpq runs both, and answers with the COPY's start).
                let attempt = Swift.Result { () throws(PostgresError) in
                    try session.copyIn("BEGIN; COPY guardian_events (\(list)) FROM STDIN (FORMAT binary)", data: payload)
                }
                switch attempt {
                case .success(let rows):
                    do {
                        try session.execute(finishSQL)
                    } catch {
                        if session.inTransaction { _ = try? session.execute("ROLLBACK") }
                        throw error
                    }
                    return (Result(staged: rows, inserted: rows), false, false)
                case .failure(let error):
                    _ = try? session.execute("ROLLBACK")
                    guard error.sqlState == "23505" else { throw error }  // unique_violation: some events are stored
                    conflicted = true
                }
            }
            try session.execute("BEGIN")
            do {
                if prepare {
                    // The staging table lives as long as the session; ON COMMIT DELETE ROWS empties it each batch.
                    try session.execute("""
                        CREATE TEMP TABLE IF NOT EXISTS guardian_events_staging
                            (LIKE guardian_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
                        """)
                }
                var staged = 0, inserted = 0
                if count > 0 {
                    staged = try session.copyIn("COPY guardian_events_staging (\(list)) FROM STDIN (FORMAT binary)", data: payload)
                    inserted = try session.execute("""
                        INSERT INTO guardian_events (\(list)) SELECT \(list) FROM guardian_events_staging
                        ON CONFLICT (event_id, ts) DO NOTHING
                        """).affectedRows
                }
                try session.execute(finishSQL)
                return (Result(staged: staged, inserted: inserted), conflicted, prepare)
            } catch {
                if session.inTransaction { _ = try? session.execute("ROLLBACK") }
                throw error
            }
        }
        if conflicted { mergeUntil.withLock { $0 = ContinuousClock.now + mergeWindow } }
        if madeStaging { prepared.withLock { $0 = true } }
        return result
    }

    /// One upsert for all checkpoints; values are numbers and quoted names. The committed offset is the
    /// group's latest known one (kept when this write knows none). A row whose epoch is not the one the
    /// writer read when it was assigned the partition (an `offsets reset` lowered it since) is left alone.
    static func checkpointStatement(_ checkpoints: [Checkpoint]) -> String? {
        guard !checkpoints.isEmpty else { return nil }
        func quoted(_ s: String) -> String { "'\(s.replacingOccurrences(of: "'", with: "''"))'" }
        func number(_ n: Int64?) -> String { n.map(String.init) ?? "NULL::bigint" }
        let values = checkpoints.map { c in
            "(\(quoted(c.group)), \(quoted(c.topic)), \(c.partition), \(c.nextOffset), \(number(c.committedOffset)), \(c.epoch ?? 0), "
                + "\(number(c.lastRecord)))"
        }.joined(separator: ", ")
        return """
            INSERT INTO guardian_checkpoints AS c (group_id, topic, partition, next_offset, committed_offset, epoch, last_record)
            VALUES \(values)
            ON CONFLICT (group_id, topic, partition) DO UPDATE
            SET last_record = CASE WHEN EXCLUDED.next_offset >= c.next_offset THEN EXCLUDED.last_record ELSE c.last_record END,
                next_offset = GREATEST(c.next_offset, EXCLUDED.next_offset),
                committed_offset = COALESCE(EXCLUDED.committed_offset, c.committed_offset), updated_at = now()
            WHERE c.epoch = EXCLUDED.epoch
            """
    }

    /// What one batch made durable in one partition, for one consumer group.
    public struct Checkpoint: Sendable {
        public var group: String
        public var topic: String
        public var partition: Int32
        /// The next offset after the batch's records in this partition.
        public var nextOffset: Int64
        /// The offset the group had committed to Kafka for this partition when the batch was written.
        public var committedOffset: Int64?
        /// The checkpoint's epoch when the writer was assigned the partition (nil: no row, epoch 0).
        public var epoch: Int64?
        /// The digest of the record at `nextOffset - 1` (`KafkaMessage.recordDigest`).
        public var lastRecord: Int64?

        public init(group: String, topic: String, partition: Int32, nextOffset: Int64, committedOffset: Int64?,
                    epoch: Int64? = nil, lastRecord: Int64? = nil) {
            self.group = group
            self.topic = topic
            self.partition = partition
            self.nextOffset = nextOffset
            self.committedOffset = committedOffset
            self.epoch = epoch
            self.lastRecord = lastRecord
        }
    }

    /// Whether the table still takes a row that is known to be good: a copy of the newest stored row, with
    /// a new event id and the time `tsNanos`, inserted in a transaction that is rolled back. Returns the
    /// database's refusal, or nil when it took the row (or holds no row to copy). When every row of a batch
    /// was refused, this tells a change to the database (a column or constraint added, a partition
    /// detached: the copy is refused too) from rows that are poison (the copy is taken).
    public func refusalOfAKnownGoodRow(at tsNanos: Int64) async throws -> PostgresError? {
        let copied = Self.columns.filter { $0 != "ingested_at" }
        let select = copied.map { c in
            switch c {
            case "ts": "timestamptz 'epoch' + ($1::bigint / 1000) * interval '1 microsecond'"
            case "event_id": "gen_random_uuid()"
            default: c
            }
        }.joined(separator: ", ")
        return try await connection.withSession { session -> PostgresError? in
            try session.execute("BEGIN")
            defer { _ = try? session.execute("ROLLBACK") }
            let attempt = Swift.Result { () throws(PostgresError) in
                try session.query("""
                    INSERT INTO guardian_events (\(copied.joined(separator: ", ")))
                    SELECT \(select) FROM guardian_events ORDER BY ts DESC LIMIT 1
                    """, [String(tsNanos)])
            }
            if case .failure(let refusal) = attempt { return refusal }
            return nil
        }
    }

    /// Convenience: builds the payload and writes it.
    public func write(_ events: [StoredEvent], ingestedAtNanos: Int64) async throws -> Result {
        try await write(payload: Self.copyPayload(events, ingestedAtNanos: ingestedAtNanos), count: events.count,
                        notify: AlertNotice.statement(for: events))
    }
}

import GuardianEvents
import GuardianPostgres

/// The read side of `guardian_events` for the query API: symbols, one symbol's latest state, keyset
/// pages of its events, time-bucketed rollups, alert events. Every value travels as a parameter: no
/// SQL is built from a request.
public struct EventQueries: Sendable {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Where a page of events ends: the last event's time (microseconds) and id. Opaque to clients as
    /// `<micros>_<event id>`.
    public struct Cursor: Sendable, Equatable, CustomStringConvertible {
        public var tsMicros: Int64
        public var eventID: EventID

        public init(tsMicros: Int64, eventID: EventID) {
            self.tsMicros = tsMicros
            self.eventID = eventID
        }

        public init?(_ text: String) {
            let parts = text.split(separator: "_", omittingEmptySubsequences: false)
            // Years 0001 to 9999 only: anything else is no cursor of ours (and out of PostgreSQL's range).
            guard parts.count == 2, let ts = Int64(parts[0]), (-62_135_596_800_000_000...253_402_300_799_999_999).contains(ts),
                  let id = EventID(String(parts[1])) else { return nil }
            self.init(tsMicros: ts, eventID: id)
        }

        public var description: String { "\(tsMicros)_\(eventID)" }
    }

    /// One page of a symbol's events, newest first.
    public struct Page: Sendable {
        public var events: [GuardianEvent]
        /// Where the next page starts; nil on the last page.
        public var next: Cursor?
    }

    /// One time bucket of a symbol's events.
    public struct Bucket: Sendable, Equatable {
        /// The bucket's start, microseconds since the epoch.
        public var startMicros: Int64
        public var events: Int
        public var denies: Int
        public var breaches: Int
        public var circuitBreakers: Int
        public var exposureMax: Double?
        /// The newest realized PnL in the bucket.
        public var realizedPnlLast: Double?
    }

    /// A symbol and its newest event.
    public struct SymbolSummary: Sendable, Equatable {
        public var symbol: String
        public var seq: Int64
        /// Nanoseconds since the epoch (microsecond precision).
        public var ts: Int64
        public var kind: String
    }

    /// Every stored symbol with its newest event (one index probe per symbol).
    public func symbols() async throws -> [SymbolSummary] {
        try await LatestState.read(connection).map { SymbolSummary(symbol: $0.symbol, seq: $0.seq, ts: $0.ts, kind: $0.kind.rawValue) }
            .sorted { $0.symbol < $1.symbol }
    }

    /// The newest stored event of `symbol`, nil when none is stored. Looked for in the last hour,
    /// then the last day, then everywhere: bounds the planner can prune partitions (chunks) with,
    /// since a table of a week of hourly partitions costs tens of milliseconds to plan whole.
    public func latest(symbol: String, nowMicros: Int64) async throws -> GuardianEvent? {
        for window: Int64? in [3_600_000_000, 86_400_000_000, nil] {
            let since = window.map { Self.timestamp(micros: nowMicros - $0) }
            if let e = try await LatestState.read(connection, symbols: [symbol], since: since).first { return e }
        }
        return nil
    }

    /// `micros` since the epoch as a timestamptz literal (`2026-12-05T02:00:00.123456Z`), sent as a
    /// parameter of type timestamptz: a constant the planner prunes partitions with (an expression
    /// such as `timestamptz 'epoch' + $1 * interval '1 microsecond'` is only stable, and is not).
    public static func timestamp(micros: Int64) -> String { RFC3339.string(micros: micros) }

    /// Up to `limit` events of `symbol` with `fromMicros <= ts < toMicros` (and of `kind`), newest
    /// first, after `cursor`. Keyset pagination on (ts, event_id): an event inserted meanwhile never
    /// shifts a page, and across pages each event comes once.
    public func events(symbol: String, fromMicros: Int64?, toMicros: Int64?, kind: String?, limit: Int, after cursor: Cursor?) async throws -> Page {
        let limit = max(1, limit)
        let sql = """
            SELECT \(LatestState.columns) FROM guardian_events e
            WHERE e.symbol = $1
              AND ($2::timestamptz IS NULL OR e.ts >= $2::timestamptz)
              AND ($3::timestamptz IS NULL OR e.ts < $3::timestamptz)
              AND ($4::text IS NULL OR e.kind = $4::text)
              AND ($5::timestamptz IS NULL OR e.ts <= $5::timestamptz)
              AND ($5::timestamptz IS NULL OR (e.ts, e.event_id) < ($5::timestamptz, $6::uuid))
            ORDER BY e.ts DESC, e.event_id DESC
            LIMIT \(limit + 1)
            """
        let rows = try await connection.query(sql, [
            symbol, fromMicros.map(Self.timestamp(micros:)), toMicros.map(Self.timestamp(micros:)), kind,
            cursor.map { Self.timestamp(micros: $0.tsMicros) }, cursor.map { $0.eventID.description },
        ]).rows
        var events = rows.compactMap(LatestState.event)
        var next: Cursor?
        if events.count > limit {
            events.removeLast(events.count - limit)
            if let last = events.last { next = Cursor(tsMicros: last.ts / 1000, eventID: last.eventID) }
        }
        return Page(events: events, next: next)
    }

    /// `symbol`'s events in buckets of `bucketSeconds` over `fromMicros <= ts < toMicros`, oldest first.
    /// From the one-minute continuous aggregate `guardian_events_1m` (TimescaleDB, migration 0012) when
    /// the buckets and both bounds are whole minutes; else a GROUP BY of the raw rows. Both give the same
    /// buckets (the aggregate computes the minutes it has not materialized from the raw rows).
    public func rollups(symbol: String, bucketSeconds: Int, fromMicros: Int64, toMicros: Int64) async throws -> (buckets: [Bucket], fromAggregate: Bool) {
        let minute: Int64 = 60_000_000
        let aligned = bucketSeconds % 60 == 0 && fromMicros % minute == 0 && toMicros % minute == 0
        var useAggregate = false
        if aligned { useAggregate = try await connection.query("SELECT to_regclass('guardian_events_1m') IS NOT NULL").scalar == "t" }
        let sql = useAggregate ? """
            SELECT (extract(epoch FROM b) * 1000000)::bigint, sum(events), sum(denies), sum(breaches), sum(circuit_breakers), max(exposure_max),
                   (array_agg(realized_pnl_last ORDER BY realized_pnl_ts DESC) FILTER (WHERE realized_pnl_last IS NOT NULL))[1]
            FROM (SELECT date_bin($2::bigint * interval '1 second', bucket, timestamptz 'epoch') AS b, * FROM guardian_events_1m
                  WHERE symbol = $1 AND bucket >= $3::timestamptz AND bucket < $4::timestamptz) r
            GROUP BY b ORDER BY b
            """ : """
            SELECT (extract(epoch FROM b) * 1000000)::bigint, count(*), count(*) FILTER (WHERE decision = 'deny'),
                   count(*) FILTER (WHERE kind = 'risk_breach'), count(*) FILTER (WHERE kind = 'circuit_breaker'),
                   max(exposure), (array_agg(realized_pnl ORDER BY ts DESC) FILTER (WHERE realized_pnl IS NOT NULL))[1]
            FROM (SELECT date_bin($2::bigint * interval '1 second', ts, timestamptz 'epoch') AS b, * FROM guardian_events
                  WHERE symbol = $1 AND ts >= $3::timestamptz AND ts < $4::timestamptz) e
            GROUP BY b ORDER BY b
            """
        let buckets: [Bucket] = try await connection.query(sql, [symbol, String(bucketSeconds), Self.timestamp(micros: fromMicros), Self.timestamp(micros: toMicros)])
            .rows.compactMap { r in
                guard let start = r[0].flatMap({ Int64($0) }) else { return nil }
                func int(_ i: Int) -> Int { r[i].flatMap { Int($0) } ?? 0 }
                return Bucket(startMicros: start, events: int(1), denies: int(2), breaches: int(3), circuitBreakers: int(4),
                              exposureMax: r[5].flatMap { Double($0) }, realizedPnlLast: r[6].flatMap { Double($0) })
            }
        return (buckets, useAggregate)
    }

    /// Risk breaches and circuit-breaker trips since `sinceMicros`, newest first.
    public func alertEvents(sinceMicros: Int64, limit: Int) async throws -> [GuardianEvent] {
        try await connection.query("""
            SELECT \(LatestState.columns) FROM guardian_events e
            WHERE e.kind IN \(Self.alertKinds) AND e.ts >= timestamptz 'epoch' + $1::bigint * interval '1 microsecond'
            ORDER BY e.ts DESC, e.event_id DESC LIMIT \(max(1, limit))
            """, [String(sinceMicros)]).rows.compactMap(LatestState.event)
    }
}

extension EventQueries {
    static let alertKinds = "('risk_breach', 'circuit_breaker')"

    /// The stored alert events at `cursors` (as `AlertNotice` announces them), oldest first; keys that
    /// are not stored alert events are left out.
    public func alerts(at cursors: [Cursor]) async throws -> [GuardianEvent] {
        guard !cursors.isEmpty else { return [] }
        return try await connection.query("""
            SELECT \(LatestState.columns) FROM guardian_events e
            JOIN unnest($1::uuid[], $2::bigint[]) AS k(id, micros)
              ON e.event_id = k.id AND e.ts = timestamptz 'epoch' + k.micros * interval '1 microsecond'
            WHERE e.kind IN \(Self.alertKinds)
            ORDER BY e.ts, e.event_id
            """, ["{" + cursors.map(\.eventID.description).joined(separator: ",") + "}",
                  "{" + cursors.map { String($0.tsMicros) }.joined(separator: ",") + "}"]).rows.compactMap(LatestState.event)
    }

    /// Up to `limit` alert events after `cursor` in (ts, event id) order, oldest first: what a client
    /// that saw `cursor` last has not seen (`Last-Event-ID`).
    public func alertEvents(after cursor: Cursor, limit: Int) async throws -> [GuardianEvent] {
        try await connection.query("""
            SELECT \(LatestState.columns) FROM guardian_events e
            WHERE e.kind IN \(Self.alertKinds)
              AND (e.ts, e.event_id) > (timestamptz 'epoch' + $1::bigint * interval '1 microsecond', $2::uuid)
            ORDER BY e.ts, e.event_id LIMIT \(max(1, limit))
            """, [String(cursor.tsMicros), cursor.eventID.description]).rows.compactMap(LatestState.event)
    }

    /// Dead letters recorded, by reason.
    public func deadLetterCounts() async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try await connection.query("SELECT reason, count(*) FROM guardian_dead_letters GROUP BY reason").rows {
            if let reason = r[0], let n = r[1].flatMap({ Int($0) }) { out[reason] = n }
        }
        return out
    }
}

import GuardianEvents
import GuardianPostgres

/// The latest stored event of each symbol, read from `guardian_events`: what the Redis state cache
/// is re-synced from after Redis was unreachable or came back empty.
public enum LatestState {
    /// Reads the newest row (by `ts`, then `seq`) of every symbol, or only of `symbols`. A loose index
    /// scan over `(symbol, ts DESC)`: one index probe per symbol, not a scan of the table.
    /// With `symbols`, `since` (a timestamptz literal) looks only at rows from then on: partitions before
    /// it are pruned when the statement is planned.
    public static func read(_ connection: PostgresConnection, symbols: [String]? = nil, since: String? = nil) async throws -> [GuardianEvent] {
        let columns = Self.columns
        let bounded = since != nil && symbols != nil
        let latest = """
            CROSS JOIN LATERAL (SELECT * FROM guardian_events g WHERE g.symbol = s.symbol\(bounded ? " AND g.ts >= $2::timestamptz" : "")
                                ORDER BY g.ts DESC, g.seq DESC LIMIT 1) e
            """
        let sql: String
        let parameters: [String?]
        if let symbols {
            guard !symbols.isEmpty else { return [] }
            sql = "SELECT \(columns) FROM unnest($1::text[]) AS s(symbol) \(latest)"
            parameters = ["{" + symbols.map { "\"\($0)\"" }.joined(separator: ",") + "}"] + (since.map { [$0] } ?? [])
        } else {
            sql = """
                WITH RECURSIVE s(symbol) AS (
                    (SELECT symbol FROM guardian_events ORDER BY symbol LIMIT 1)
                    UNION ALL
                    SELECT (SELECT g.symbol FROM guardian_events g WHERE g.symbol > s.symbol ORDER BY g.symbol LIMIT 1)
                    FROM s WHERE s.symbol IS NOT NULL)
                SELECT \(columns) FROM s \(latest) WHERE s.symbol IS NOT NULL
                """
            parameters = []
        }
        return try await connection.query(sql, parameters).rows.compactMap(event)
    }

    /// The columns `event(_:)` reads, of a row aliased `e`.
    static let columns = """
        e.event_id::text, e.symbol, e.seq, (extract(epoch FROM e.ts) * 1000000)::bigint * 1000, e.kind, e.decision,
        e.reason, e.side, e.qty, e.price, e.position, e.exposure, e.realized_pnl, e.unrealized_pnl, e.latency_us, e.attrs::text
        """

    static func event(_ r: [String?]) -> GuardianEvent? {
        guard let id = r[0].flatMap({ EventID($0) }), let symbol = r[1], let seq = r[2].flatMap({ Int64($0) }),
              let ts = r[3].flatMap({ Int64($0) }), let kind = r[4].flatMap(EventKind.init(rawValue:))
        else { return nil }
        func double(_ i: Int) -> Double? { r[i].flatMap { Double($0) } }
        return GuardianEvent(
            eventID: id, symbol: symbol, seq: seq, ts: ts, kind: kind,
            decision: r[5].flatMap(Decision.init(rawValue:)), reason: r[6], side: r[7].flatMap(Side.init(rawValue:)),
            qty: double(8), price: double(9), position: double(10), exposure: double(11),
            realizedPnl: double(12), unrealizedPnl: double(13), latencyUs: r[14].flatMap { Int64($0) }, attrs: r[15])
    }
}

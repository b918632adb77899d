import Foundation
import GuardianEvents
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianTestSupport
import Logging
import Testing

func sampleEvents(count: Int, symbols: Int, seqBase: Int64 = 0) -> [StoredEvent] {
    let now = Int64(Date().timeIntervalSince1970 * 1e9)
    return (0..<count).map { i in
        let e = GuardianEvent(
            eventID: .random(), symbol: "SYM\(i % symbols)", seq: seqBase + Int64(i / symbols), ts: now + Int64(i) * 1000,
            kind: i % 5 == 0 ? .position : .orderCheck, decision: i % 3 == 0 ? .deny : .allow,
            reason: i % 3 == 0 ? "limit" : nil, side: i % 2 == 0 ? .buy : .sell, qty: Double(i % 100), price: 100.5,
            position: i % 5 == 0 ? Double(i) : nil, latencyUs: 12, attrs: i % 7 == 0 ? #"{"i":\#(i)}"# : nil)
        return StoredEvent(event: e, partition: Int32(i % 4), offset: Int64(i))
    }
}

@Suite struct EventTableWriterTests {
    @Test func writesABatchAndAbsorbsRedelivery() async throws {
        let tmp = try await TemporaryDatabase.create()
        let db = try await PostgresConnection.connect(tmp.configuration)
        _ = try await Migrator(connection: db, schemas: schemasURL, settings: StorageSettings(), logger: Logger(label: "test")).migrate()
        let writer = EventTableWriter(connection: db)
        let events = sampleEvents(count: 5000, symbols: 16)
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let first = try await writer.write(events, ingestedAtNanos: now)
        #expect(first == .init(staged: 5000, inserted: 5000))
        let again = try await writer.write(Array(events[1000..<3000]) + events[0..<10], ingestedAtNanos: now)
        #expect(again == .init(staged: 2010, inserted: 0))
        #expect(try await db.query("SELECT count(*), count(DISTINCT event_id) FROM guardian_events").rows == [["5000", "5000"]])
        // A batch mixing new and stored events stores exactly the new ones, also with the fast path due again.
        let more = sampleEvents(count: 700, symbols: 16, seqBase: 1_000)
        let fresh = EventTableWriter(connection: db, mergeWindow: .zero)
        #expect(try await fresh.write(more + events[0..<300], ingestedAtNanos: now) == .init(staged: 1000, inserted: 700))
        #expect(try await fresh.write(sampleEvents(count: 50, symbols: 4), ingestedAtNanos: now) == .init(staged: 50, inserted: 50))
        #expect(try await db.query("SELECT count(*) FROM guardian_events").scalar == "5750")

        // Every column reads back as written.
        let e = events[21]
        let row = try await db.query("""
            SELECT symbol, seq, kind, decision, reason, side, qty, price, position, latency_us, attrs::text,
                   kafka_partition, kafka_offset, (extract(epoch from ts) * 1000000)::bigint
            FROM guardian_events WHERE event_id = $1
            """, [e.event.eventID.description]).rows
        #expect(row == [[e.event.symbol, "\(e.event.seq)", "order_check", "deny", "limit", "sell", "21", "100.5", nil, "12",
                         #"{"i": 21}"#, "1", "21", "\(e.event.ts / 1000)"]])
        try await tmp.drop()
    }
}

@Suite struct StateCacheTests {
    /// On a Redis of its own: it flushes the script cache, which on the shared Redis would pull the
    /// script from under the workers of other tests.
    @Test func keepsTheNewestEventPerSymbolAndNeverMovesBack() async throws {
        let server = try await PrivateRedis()
        let redis = try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: server.port))
        let cache = StateCache(connection: redis)
        let symbol = uniqueName("S")
        let base = GuardianEvent(eventID: .random(), symbol: symbol, seq: 5, ts: 1_000, kind: .position,
                                 side: .buy, qty: 1.5, position: 250, exposure: 1e-7, attrs: #"{"a":1}"#)
        var older = base
        older.seq = 4
        older.position = 1
        var newer = base
        newer.seq = 9_007_199_254_740_993  // above 2^53: must not be rounded
        newer.kind = .orderCheck
        newer.position = nil

        #expect(try await cache.apply([older, base]) == 1)
        var state = try await hash(redis, StateCache.stateKey(symbol))
        #expect(state["seq"] == "5" && state["position"] == "250" && state["qty"] == "1.5" && state["exposure"] == "0.0000001")
        #expect(state["kind"] == "position" && state["side"] == "buy" && state["attrs"] == #"{"a":1}"#)

        #expect(try await cache.apply([older]) == 0, "a replay of an older event does not move state back")
        #expect(try await hash(redis, StateCache.stateKey(symbol))["seq"] == "5")

        #expect(try await cache.apply([newer]) == 1)
        state = try await hash(redis, StateCache.stateKey(symbol))
        #expect(state["seq"] == "9007199254740993" && state["kind"] == "order_check")
        #expect(state["position"] == nil, "fields null in the latest event are removed")
        var almost = newer
        almost.seq = 9_007_199_254_740_992
        #expect(try await cache.apply([almost]) == 0)
        #expect(try await redis.command(["SISMEMBER", StateCache.symbolsKey, symbol]).integer == 1)

        // After Redis forgets its scripts (e.g. a restart), the update reloads the script.
        try await redis.command(["SCRIPT", "FLUSH"])
        var newest = newer
        newest.seq += 1
        #expect(try await cache.apply([newest]) == 1)
        try await redis.command(["DEL", StateCache.stateKey(symbol)])
        try await redis.command(["SREM", StateCache.symbolsKey, symbol])
    }

    func hash(_ redis: RedisConnection, _ key: String) async throws -> [String: String] {
        let flat = try await redis.command(["HGETALL", key]).array ?? []
        var out: [String: String] = [:]
        for i in stride(from: 0, to: flat.count - 1, by: 2) { out[flat[i].string ?? ""] = flat[i + 1].string }
        return out
    }
}

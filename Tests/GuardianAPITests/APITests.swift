import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import GuardianAPI
import GuardianDevBroker
import GuardianKafka
import GuardianEvents
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianTestSupport
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

let schemasURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas")

/// `guardian api` in process, on a migrated database of its own and a Redis of its own, answering
/// over real HTTP.
final class APIFixture: Sendable {
    let database: TemporaryDatabase
    let redis: PrivateRedis
    let port: Int
    let readToken: String
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(database: TemporaryDatabase, redis: PrivateRedis, port: Int, readToken: String, group: ServiceGroup, task: Task<Void, any Error>) {
        self.database = database
        self.redis = redis
        self.port = port
        self.readToken = readToken
        self.group = group
        self.task = task
    }

    static func make(
        rateLimitPerSecond: Double = 1000, burst: Double = 2000, kafka: KafkaConfiguration? = nil, topic: String = "guardian.events",
        group: String = "guardian-workers", console: Bool = false, webhooks: [URL] = [], reusing earlier: APIFixture? = nil
    ) async throws -> APIFixture {
        let database: TemporaryDatabase
        if let earlier { database = earlier.database } else { database = try await TemporaryDatabase.create() }
        let db = try await PostgresConnection.connect(database.configuration)
        _ = try await Migrator(connection: db, schemas: schemasURL, settings: StorageSettings(), logger: Logger(label: "api-test")).migrate()
        let redis: PrivateRedis
        if let earlier { redis = earlier.redis } else { redis = try await PrivateRedis() }
        let configuration = APIConfiguration(
            host: "127.0.0.1", port: 0, postgres: database.configuration, redis: RedisConfiguration(host: "127.0.0.1", port: redis.port),
            kafka: kafka, topic: topic, group: group, rateLimitPerSecond: rateLimitPerSecond, rateLimitBurst: burst,
            lagInterval: .seconds(1), tokenCacheTTL: .milliseconds(200),
            consoleDirectory: console ? schemasURL.deletingLastPathComponent().appendingPathComponent("console").path : nil,
            webhookURLs: webhooks, webhookRetryBase: .milliseconds(50))
        let openAPI = try Data(contentsOf: schemasURL.appendingPathComponent("openapi.json"))
        let server = APIServer(configuration: configuration, openAPI: openAPI, logger: Logger(label: "api-test"))
        let bound = Mutex<Int?>(nil)
        let services = server.services(registry: PrometheusCollectorRegistry()) { port in bound.withLock { $0 = port } }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: Logger(label: "api-test")))
        let task = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while bound.withLock({ $0 }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard let port = bound.withLock({ $0 }) else { throw APITestError("the API did not start within 30 s") }
        while !server.alerts.isListening && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard server.alerts.isListening else { throw APITestError("the API did not listen for alerts within 30 s") }
        let token = try await APITokens.create(name: "reader-\(UInt32.random(in: 0...UInt32.max))", scope: .read, in: APITokenStore(connection: db))
        return APIFixture(database: database, redis: redis, port: port, readToken: token, group: group, task: task)
    }

    func connection() async throws -> PostgresConnection { try await PostgresConnection.connect(database.configuration) }

    /// GET `path`; the status, the content type and the body parsed as JSON (nil when it is not JSON).
    func get(_ path: String, token: String? = nil, bearer: Bool = true) async throws -> (status: Int, type: String, json: [String: Any]?, headers: [AnyHashable: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        if bearer { request.setValue("Bearer \(token ?? readToken)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        return (http.statusCode, http.value(forHTTPHeaderField: "Content-Type") ?? "", json, http.allHeaderFields)
    }

    /// POST `body` as JSON to `path`.
    func post(_ path: String, _ body: [String: Any], token: String? = nil) async throws -> (status: Int, json: [String: Any]?) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token ?? readToken)", forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, try? JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Stops the API as SIGTERM does, gracefully (the database and Redis stay, for `make(reusing:)`).
    func stopServer() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    func stop() async throws {
        task.cancel()
        _ = try? await task.value
        redis.kill()
        try await database.drop()
    }
}

struct APITestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Events of `symbols` symbols, `perSymbol` each, `spacingNanos` (1 µs) apart from `start`; every 10th a
/// risk breach, every 25th a circuit-breaker trip, every 3rd a deny.
func makeEvents(symbols: [String], perSymbol: Int, start: Int64, seqBase: Int64 = 0, spacingNanos: Int64 = 1000) -> [StoredEvent] {
    var out: [StoredEvent] = []
    for i in 0..<perSymbol {
        for (j, symbol) in symbols.enumerated() {
            let kind: EventKind = i % 25 == 24 ? .circuitBreaker : i % 10 == 9 ? .riskBreach : .orderCheck
            let e = GuardianEvent(
                eventID: .random(), symbol: symbol, seq: seqBase + Int64(i), ts: start + Int64(i * symbols.count + j) * spacingNanos, kind: kind,
                decision: i % 3 == 0 ? .deny : .allow, reason: i % 3 == 0 ? "limit" : nil, side: .buy, qty: 1, price: 100,
                exposure: Double(i), realizedPnl: Double(i) / 2, attrs: i % 7 == 0 ? #"{"desk":"eq1"}"# : nil)
            out.append(StoredEvent(event: e, partition: Int32(j % 4), offset: seqBase + Int64(i)))
        }
    }
    return out
}

@Suite struct APITests {
    @Test func everyEndpointAnswersFromRowsTheTestWrote() async throws {
        let f = try await APIFixture.make()
        let db = try await f.connection()
        let start = Int64(Date().timeIntervalSince1970 * 1e9) - 600_000_000_000  // 10 min ago
        let events = makeEvents(symbols: ["AAPL", "MSFT", "ES.FUT"], perSymbol: 100, start: start)
        _ = try await EventTableWriter(connection: db).write(events, ingestedAtNanos: start)
        // Redis holds AAPL's state only.
        try await StateCache(connection: try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: f.redis.port)))
            .apply(events.filter { $0.event.symbol == "AAPL" }.map(\.event))

        // Health and the contract need no token; /v1 does.
        #expect(try await f.get("/healthz", bearer: false).status == 200)
        let openAPI = try await f.get("/openapi.json", bearer: false)
        #expect(openAPI.status == 200 && openAPI.json?["openapi"] as? String == "3.1.0")
        let anonymous = try await f.get("/v1/symbols", bearer: false)
        #expect(anonymous.status == 401 && anonymous.type == "application/problem+json" && anonymous.json?["status"] as? Int == 401)
        #expect(try await f.get("/v1/symbols", token: "gft_000000000000_" + String(repeating: "0", count: 64)).status == 401)

        let symbols = try #require(try await f.get("/v1/symbols").json?["symbols"] as? [[String: Any]])
        #expect(symbols.map { $0["symbol"] as? String } == ["AAPL", "ES.FUT", "MSFT"])
        #expect(symbols.allSatisfy { $0["seq"] as? Int == 99 })

        let cached = try await f.get("/v1/symbols/AAPL/state")
        #expect(cached.status == 200 && cached.json?["source"] as? String == "redis" && cached.json?["seq"] as? Int == 99, "\(cached)")
        let stored = try await f.get("/v1/symbols/MSFT/state")
        #expect(stored.status == 200 && stored.json?["source"] as? String == "timescaledb" && stored.json?["seq"] as? Int == 99, "\(stored)")
        let newestMSFT = events.filter { $0.event.symbol == "MSFT" }.last!.event
        #expect(stored.json?["event_id"] as? String == newestMSFT.eventID.description)
        #expect(stored.json?["ts"] as? String == JSONDocument.time(nanos: newestMSFT.ts))
        #expect(try await f.get("/v1/symbols/NOPE/state").status == 404)
        let badSymbol = try await f.get("/v1/symbols/bad%20symbol/state")
        #expect(badSymbol.status == 400 && (badSymbol.json?["detail"] as? String)?.hasPrefix("symbol:") == true, "\(badSymbol)")

        // Events, newest first, paged by 7: each of the 100 exactly once.
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await f.get("/v1/symbols/ES.FUT/events?limit=7" + (cursor.map { "&cursor=\($0)" } ?? ""))
            #expect(page.status == 200)
            let batch = try #require(page.json?["events"] as? [[String: Any]])
            seen += batch.compactMap { $0["event_id"] as? String }
            cursor = page.json?["next_cursor"] as? String
            pages += 1
        } while cursor != nil && pages < 100
        let esFut = events.filter { $0.event.symbol == "ES.FUT" }
        #expect(seen == esFut.reversed().map { $0.event.eventID.description }, "every event once, newest first")
        #expect(pages == 15)
        let breaches = try await f.get("/v1/symbols/ES.FUT/events?kind=risk_breach&limit=1000")
        #expect((breaches.json?["events"] as? [Any])?.count == esFut.filter { $0.event.kind == .riskBreach }.count)
        for bad in ["limit=0", "limit=1001", "kind=bogus", "from=yesterday", "cursor=xyz"] {
            let r = try await f.get("/v1/symbols/ES.FUT/events?\(bad)")
            let name = String(bad.split(separator: "=")[0])
            #expect(r.status == 400 && (r.json?["detail"] as? String)?.hasPrefix("\(name):") == true, "\(bad): \(r)")
        }

        // Rollups: 1-minute buckets over the 10 minutes hold every event of the symbol once.
        let from = JSONDocument.time(nanos: start - 60_000_000_000), to = JSONDocument.time(nanos: start + 60_000_000_000)
        let rollups = try #require(try await f.get("/v1/symbols/AAPL/rollups?bucket=1m&from=\(from)&to=\(to)").json?["buckets"] as? [[String: Any]])
        let aapl = events.filter { $0.event.symbol == "AAPL" }
        #expect(rollups.reduce(0) { $0 + ($1["events"] as? Int ?? 0) } == aapl.count)
        #expect(rollups.reduce(0) { $0 + ($1["denies"] as? Int ?? 0) } == aapl.filter { $0.event.decision == .deny }.count)
        #expect(rollups.reduce(0) { $0 + ($1["breaches"] as? Int ?? 0) } == aapl.filter { $0.event.kind == .riskBreach }.count)
        #expect(rollups.map { $0["exposure_max"] as? Double }.compactMap { $0 }.max() == 99)
        #expect(try await f.get("/v1/symbols/AAPL/rollups?bucket=7x").status == 400)

        // Alerts: every breach and circuit-breaker trip of the last hour.
        let since = JSONDocument.time(nanos: start - 1_000_000_000)
        let alerts = try #require(try await f.get("/v1/alerts?since=\(since)&limit=1000").json?["alerts"] as? [[String: Any]])
        #expect(alerts.count == events.filter { $0.event.kind == .riskBreach || $0.event.kind == .circuitBreaker }.count)

        let fleet = try await f.get("/v1/fleet")
        #expect(fleet.status == 200 && (fleet.json?["dead_letters"] as? [String: Any])?["total"] as? Int == 0, "\(fleet)")
        #expect((fleet.json?["cache"] as? [String: Any])?["redis_reachable"] as? Bool == true)
        try await f.stop()
    }

    /// Pages stay exact while events are inserted: newer events inserted after the first page never
    /// shift the pages that follow, and each event present at the start comes exactly once.
    @Test func pagingWhileEventsAreInsertedReturnsEachEventOnce() async throws {
        let f = try await APIFixture.make()
        let db = try await f.connection()
        let writer = EventTableWriter(connection: db)
        let start = Int64(Date().timeIntervalSince1970 * 1e9) - 300_000_000_000
        let before = makeEvents(symbols: ["AAPL"], perSymbol: 200, start: start)
        _ = try await writer.write(before, ingestedAtNanos: start)
        var seen: [String] = []
        var cursor: String?
        var round = 0
        repeat {
            let page = try await f.get("/v1/symbols/AAPL/events?limit=25" + (cursor.map { "&cursor=\($0)" } ?? ""))
            seen += (page.json?["events"] as? [[String: Any]] ?? []).compactMap { $0["event_id"] as? String }
            cursor = page.json?["next_cursor"] as? String
            // Meanwhile the engine goes on: 10 newer events per page read.
            round += 1
            _ = try await writer.write(makeEvents(symbols: ["AAPL"], perSymbol: 10, start: start + 1_000_000_000 * Int64(round), seqBase: 1000 * Int64(round)),
                                       ingestedAtNanos: start)
        } while cursor != nil && round < 100
        #expect(Set(seen).count == seen.count, "no event twice")
        #expect(seen == before.reversed().map { $0.event.eventID.description }, "exactly the events present when paging began")
        try await f.stop()
    }

    @Test func redisDownServesTheStateFromTheDatabase() async throws {
        let f = try await APIFixture.make()
        let db = try await f.connection()
        let start = Int64(Date().timeIntervalSince1970 * 1e9) - 60_000_000_000
        let events = makeEvents(symbols: ["AAPL"], perSymbol: 20, start: start)
        _ = try await EventTableWriter(connection: db).write(events, ingestedAtNanos: start)
        try await StateCache(connection: try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: f.redis.port))).apply(events.map(\.event))
        #expect(try await f.get("/v1/symbols/AAPL/state").json?["source"] as? String == "redis")
        f.redis.kill()
        let down = try await f.get("/v1/symbols/AAPL/state")
        #expect(down.status == 200 && down.json?["source"] as? String == "timescaledb" && down.json?["seq"] as? Int == 19, "\(down)")
        #expect((try await f.get("/v1/fleet").json?["cache"] as? [String: Any])?["redis_reachable"] as? Bool == false)
        // The fleet monitor (every second here) raises a cache_down alert.
        var types: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while !types.contains("cache_down") && ContinuousClock.now < deadline {
            types = (try await f.get("/v1/alerts").json?["alerts"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
            if !types.contains("cache_down") { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(types.contains("cache_down"), "\(types)")
        try await f.stop()
    }

    /// A worker that reports its cache stale sends state reads to the database even though Redis
    /// answers (it may be behind); a report older than 10 s (a worker gone) does not.
    @Test func aStaleCacheReportedByAWorkerIsNotReadFrom() async throws {
        let f = try await APIFixture.make()
        let db = try await f.connection()
        let start = Int64(Date().timeIntervalSince1970 * 1e9) - 60_000_000_000
        let events = makeEvents(symbols: ["AAPL"], perSymbol: 20, start: start)
        _ = try await EventTableWriter(connection: db).write(events, ingestedAtNanos: start)
        // Redis is behind: it holds only the first 10.
        try await StateCache(connection: try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: f.redis.port)))
            .apply(events.prefix(10).map(\.event))
        #expect(try await f.get("/v1/symbols/AAPL/state").json?["seq"] as? Int == 9)
        try await CacheStatus(connection: db).report(worker: "w1", stale: true)
        func source() async throws -> (String?, Int?) {
            // The API reads the reports at most once a second: bounded wait for the change.
            let json = try await f.get("/v1/symbols/AAPL/state").json
            return (json?["source"] as? String, json?["seq"] as? Int)
        }
        var seen = try await source()
        let deadline = ContinuousClock.now + .seconds(10)
        while seen.0 != "timescaledb" && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            seen = try await source()
        }
        #expect(seen.0 == "timescaledb" && seen.1 == 19, "\(seen)")
        // Reported again, as a live worker does every second: on a loaded machine the wait above can take
        // longer than the 10 s after which the first report no longer counts.
        try await CacheStatus(connection: db).report(worker: "w1", stale: true)
        var fleet = try await f.get("/v1/fleet").json
        let fleetDeadline = ContinuousClock.now + .seconds(10)
        while ((fleet?["cache"] as? [String: Any])?["stale_workers"] as? [[String: Any]])?.first?["worker"] as? String != "w1"
            && ContinuousClock.now < fleetDeadline {
            try await Task.sleep(for: .milliseconds(100))
            fleet = try await f.get("/v1/fleet").json
        }
        let cache = fleet?["cache"] as? [String: Any]
        #expect((cache?["stale_workers"] as? [[String: Any]])?.first?["worker"] as? String == "w1", "\(String(describing: cache))")
        let workers = fleet?["workers"] as? [[String: Any]]
        #expect(workers?.count == 1 && workers?.first?["worker"] as? String == "w1" && workers?.first?["cache_stale"] as? Bool == true, "\(String(describing: workers))")
        // A report from a worker that stopped reporting 10 s ago does not count.
        try await db.execute("UPDATE guardian_cache_status SET reported_at = now() - interval '11 seconds'")
        let until = ContinuousClock.now + .seconds(10)
        while seen.0 != "redis" && ContinuousClock.now < until {
            try await Task.sleep(for: .milliseconds(100))
            seen = try await source()
        }
        #expect(seen.0 == "redis", "\(seen)")
        // Workers silent for a day are forgotten (a worker prunes when it starts reporting).
        try await db.execute("INSERT INTO guardian_cache_status (worker_id, stale, reported_at) VALUES ('gone', false, now() - interval '25 hours')")
        #expect(try await CacheStatus(connection: db).prune() == 1)
        #expect(try await db.query("SELECT worker_id FROM guardian_cache_status").rows == [["w1"]])
        try await f.stop()
    }

    /// Rollups hold exactly the stored events per bucket: whole-minute buckets on whole-minute bounds
    /// (the continuous aggregate with TimescaleDB, real-time and then materialized) and odd ones (raw rows)
    /// both match what the test computes from the events it wrote.
    @Test func rollupsMatchTheEventsInEveryBucket() async throws {
        let f = try await APIFixture.make()
        let db = try await f.connection()
        let minute: Int64 = 60_000_000_000
        let start = (Int64(Date().timeIntervalSince1970 * 1e9) / minute - 30) * minute  // 30 minutes ago, on a minute
        let events = makeEvents(symbols: ["AAPL"], perSymbol: 300, start: start, spacingNanos: 2_000_000_000)  // 10 minutes
        _ = try await EventTableWriter(connection: db).write(events, ingestedAtNanos: start)
        func expected(bucket: Int64) -> [[String: Double]] {
            let groups = Dictionary(grouping: events.map(\.event)) { $0.ts / bucket }  // buckets from the epoch, as date_bin
            return groups.keys.sorted().map { k in
                let g = groups[k]!
                return ["events": Double(g.count), "denies": Double(g.filter { $0.decision == .deny }.count),
                        "breaches": Double(g.filter { $0.kind == .riskBreach }.count), "exposure_max": g.compactMap(\.exposure).max()!,
                        "realized_pnl_last": g.max { $0.ts < $1.ts }!.realizedPnl!]
            }
        }
        let aggregate = try await db.query("SELECT to_regclass('guardian_events_1m') IS NOT NULL").scalar == "t"
        #expect(aggregate == (StackEnvironment.shared.values["GUARDIAN_STORAGE_MODE"] == "timescaledb"), "the aggregate exists with TimescaleDB only")
        func rollups(_ bucket: String, from: Int64, to: Int64) async throws -> [[String: Double]] {
            let r = try await f.get("/v1/symbols/AAPL/rollups?bucket=\(bucket)&from=\(JSONDocument.time(nanos: from))&to=\(JSONDocument.time(nanos: to))")
            #expect(r.status == 200, "\(r)")
            let wholeMinutes = bucket.hasSuffix("m") && from % minute == 0 && to % minute == 0
            #expect(r.json?["source"] as? String == (aggregate && wholeMinutes ? "continuous_aggregate" : "events"), "\(bucket) \(from) \(to)")
            return (r.json?["buckets"] as? [[String: Any]] ?? []).map { b in
                var out: [String: Double] = [:]
                for k in ["events", "denies", "breaches", "exposure_max", "realized_pnl_last"] { out[k] = (b[k] as? NSNumber)?.doubleValue }
                return out
            }
        }
        for round in aggregate ? ["real-time", "materialized"] : ["raw"] {
            if round == "materialized" { try await db.execute("CALL refresh_continuous_aggregate('guardian_events_1m', NULL, NULL)") }
            #expect(try await rollups("1m", from: start, to: start + 10 * minute) == expected(bucket: minute), "1m, \(round)")
            #expect(try await rollups("5m", from: start, to: start + 10 * minute) == expected(bucket: 5 * minute), "5m, \(round)")
            #expect(try await rollups("30s", from: start, to: start + 10 * minute) == expected(bucket: minute / 2), "30s (raw rows), \(round)")
            // Bounds inside a minute: raw rows, only the events inside them.
            let odd = try await rollups("1m", from: start + 30_000_000_000, to: start + 90_000_000_000)
            #expect(odd.map { $0["events"] ?? 0 }.reduce(0, +) == 30, "\(odd)")
        }
        try await f.stop()
    }

    @Test func aRevokedTokenIsRefusedAndOnlyItsHashIsStored() async throws {
        let f = try await APIFixture.make()
        let store = APITokenStore(connection: try await f.connection())
        let token = try await APITokens.create(name: "ops-laptop", scope: .read, in: store)
        #expect(try await f.get("/v1/symbols", token: token).status == 200)
        await #expect(throws: APITokenError.self) { try await APITokens.create(name: "ops-laptop", scope: .read, in: store) }
        #expect(try await store.revoke(name: "ops-laptop"))
        // The API trusts a verified token for its cache TTL (200 ms here): bounded wait for the refusal.
        var status = 200
        let deadline = ContinuousClock.now + .seconds(10)
        while status != 401 && ContinuousClock.now < deadline {
            status = try await f.get("/v1/symbols", token: token).status
            if status != 401 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(status == 401, "a revoked token is refused")
        // Only the hash is stored: the token's text appears nowhere in the table.
        let secret = String(token.split(separator: "_")[2])
        #expect(try await f.connection().query("SELECT count(*) FROM guardian_api_tokens WHERE secret_sha256::text LIKE '%' || $1 || '%' OR token_id = $1", [secret]).scalar == "0")
        // A new token may take a revoked token's name.
        let again = try await APITokens.create(name: "ops-laptop", scope: .operate, in: store)
        #expect(try await f.get("/v1/symbols", token: again).status == 200)
        #expect(try await f.get("/v1/symbols", token: token).status == 401, "the old token stays refused")
        try await f.stop()
    }

    /// Alerts are streamed as their batch becomes durable, each once (a redelivered batch is not
    /// announced twice), only alert kinds; a client that reconnects with `Last-Event-ID` gets what came
    /// after that alert, then the live ones.
    @Test func alertsAreStreamedOnceWhenStoredAndLastEventIDResumes() async throws {
        let f = try await APIFixture.make()
        let writer = DurableBatchWriter(writer: EventTableWriter(connection: try await f.connection()), logger: Logger(label: "api-test"))
        func store(_ events: [StoredEvent]) async throws {
            _ = try await writer.write(DurableBatch(events: events, refusedLetter: { _, _ in fatalError("no row is refused here") }),
                                       deliver: { _ in })
        }
        func alertIDs(_ events: [StoredEvent]) -> [String] {
            events.filter { AlertNotice.kinds.contains($0.event.kind) }
                .map { EventQueries.Cursor(tsMicros: $0.event.ts / 1000, eventID: $0.event.eventID) }
                .sorted { ($0.tsMicros, $0.eventID.description) < ($1.tsMicros, $1.eventID.description) }.map(\.description)
        }
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let a = makeEvents(symbols: ["AAPL", "MSFT"], perSymbol: 50, start: now - 30_000_000_000)
        let c = makeEvents(symbols: ["AAPL", "MSFT"], perSymbol: 50, start: now - 20_000_000_000, seqBase: 100)
        let d = makeEvents(symbols: ["ES.FUT"], perSymbol: 50, start: now - 10_000_000_000, seqBase: 200)
        #expect(alertIDs(a).count == 12 && alertIDs(c).count == 12 && alertIDs(d).count == 6)

        let live = try SSEClient(port: f.port, path: "/v1/alerts/stream", token: f.readToken)
        #expect(await live.started(timeout: .seconds(30)), "the stream answered")
        #expect(live.head.hasPrefix("HTTP/1.1 200") && live.head.lowercased().contains("content-type: text/event-stream"), "\(live.head)")
        try await store(a)
        let first = await live.messages(count: 12, timeout: .seconds(30))
        #expect(first.map(\.id) == alertIDs(a), "every alert of the batch, in time order, once stored")
        #expect(first.allSatisfy { $0.event == "alert" })
        let json = try #require(first.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] })
        #expect(json["type"] as? String == "risk_breach" && json["symbol"] as? String == "AAPL" && json["event"] is [String: Any], "\(json)")

        // A redelivered batch is stored again as a no-op and announced again: not streamed twice.
        try await store(a)
        try await store(c)
        // Notifications are handled in commit order: a repeat of A's alerts would come before C's.
        let second = await live.messages(count: 12, timeout: .seconds(30))
        #expect(second.map(\.id) == alertIDs(c), "only the new batch's alerts")

        // A client that saw A's 6th alert reconnects: the rest of A and all of C, then live ones.
        let resumed = try SSEClient(port: f.port, path: "/v1/alerts/stream", token: f.readToken, lastEventID: alertIDs(a)[5])
        let backlog = await resumed.messages(count: 18, timeout: .seconds(30))
        #expect(backlog.map(\.id) == Array(alertIDs(a)[6...]) + alertIDs(c))
        try await store(d)
        #expect(await resumed.messages(count: 6, timeout: .seconds(30)).map(\.id) == alertIDs(d))
        #expect(await live.messages(count: 6, timeout: .seconds(30)).map(\.id) == alertIDs(d))

        let bad = try SSEClient(port: f.port, path: "/v1/alerts/stream", token: f.readToken, lastEventID: "yesterday")
        #expect(await bad.started(timeout: .seconds(30)) && bad.head.hasPrefix("HTTP/1.1 400"), "\(bad.head)")
        try await f.stop()
    }

    /// `POST /v1/offsets/reset`: a read token previews (nothing moves), executing needs operate; an
    /// executed reset commits the offsets, lowers the group's checkpoints and is audited under the
    /// token's name; bad bodies are 400 naming the field.
    @Test func anOffsetsResetPreviewsWithReadAndExecutesWithOperateAuditedAsTheToken() async throws {
        let kafka = KafkaConfiguration(bootstrapServers: try StackEnvironment.shared.kafkaBootstrapServers)
        let suffix = UUID().uuidString.prefix(8)
        let topic = "api-reset-\(suffix)", group = "api-reset-group-\(suffix)"
        let admin = try KafkaAdmin(configuration: kafka)
        _ = try await DevBrokerControlClient(address: try StackEnvironment.shared.devBrokerControl).send("topic \(topic) 3 3")
        let producer = try KafkaProducer(configuration: kafka)
        for i in 0..<30 { _ = try producer.produce(topic: topic, key: "k\(i)", value: "v\(i)", partition: Int32(i % 3)) }
        try await producer.flush(timeout: .seconds(30))
        let f = try await APIFixture.make(kafka: kafka, topic: topic, group: group)
        let db = try await f.connection()
        let operate = try await APITokens.create(name: "night-ops", scope: .operate, in: APITokenStore(connection: db))
        func committed() async throws -> [Int32: Int64?] {
            Dictionary(uniqueKeysWithValues: try await admin.committedOffsets(groupID: group, partitions: (0..<3).map { TopicPartition(topic, $0) })
                .map { ($0.partition, $0.offset) })
        }
        let before = try await committed()

        let preview = try await f.post("/v1/offsets/reset", ["to_latest": true])
        #expect(preview.status == 200 && preview.json?["executed"] as? Bool == false, "\(preview)")
        let moves = try #require(preview.json?["partitions"] as? [[String: Any]])
        #expect(moves.compactMap { $0["new_offset"] as? Int } == [10, 10, 10], "\(moves)")
        #expect(try await committed() == before, "a preview moves nothing")
        let refused = try await f.post("/v1/offsets/reset", ["to_latest": true, "execute": true])
        #expect(refused.status == 403, "\(refused)")

        let latest = try await f.post("/v1/offsets/reset", ["to_latest": true, "execute": true], token: operate)
        #expect(latest.status == 200 && latest.json?["executed"] as? Bool == true, "\(latest)")
        #expect(try await committed() == [0: 10, 1: 10, 2: 10])
        // A checkpoint at the end of partition 0: a rewind must lower it, or the workers would skip back to it.
        try await db.query("""
            INSERT INTO guardian_checkpoints (group_id, topic, partition, next_offset) VALUES ($1, $2, 0, 10)
            ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = 10
            """, [group, topic])
        let rewind = try await f.post("/v1/offsets/reset", ["shift_by": -4, "partitions": [0], "execute": true], token: operate)
        #expect(rewind.status == 200 && rewind.json?["checkpoints_lowered"] as? [Int] == [0], "\(rewind)")
        #expect(try await committed() == [0: 6, 1: 10, 2: 10])
        #expect(try await db.query("SELECT next_offset FROM guardian_checkpoints WHERE group_id = $1 AND topic = $2 AND partition = 0", [group, topic]).scalar == "6")
        let audit = try await db.query("SELECT actor, count(*) FROM guardian_operations WHERE operation = 'offsets_reset' GROUP BY actor").rows
        #expect(audit == [["night-ops", "2"]], "two executed resets, recorded as the token's name; the preview and the refusal record nothing")

        for (body, field) in [(["to_latest": true, "to_earliest": true], "body"), (["shift_by": "x"], "shift_by"), (["bogus": 1], "bogus"),
                              (["to_offset": ["a": 1]], "to_offset"), (["to_latest": true, "partitions": []], "partitions"),
                              (["to_datetime": "noon"], "to_datetime"), (["to_latest": true, "execute": "yes"], "execute")] as [([String: Any], String)] {
            let r = try await f.post("/v1/offsets/reset", body, token: operate)
            #expect(r.status == 400 && (r.json?["detail"] as? String)?.hasPrefix("\(field):") == true, "\(body): \(r)")
        }
        #expect(try await committed() == [0: 6, 1: 10, 2: 10], "refused bodies move nothing")
        try await f.stop()
    }

    /// The console in a real browser (chromium, driven by `Tests/console/console_test.py`): a wrong
    /// token refused, the symbols the test stored, one symbol's state, events and rollups, the stream
    /// live, and an alert stored after the page loaded shown without a reload; no console errors. The
    /// screenshot is kept at `.run/console.png`.
    @Test func theConsoleShowsTheFleetSymbolsAndAnAlertArrivingLive() async throws {
        let kafka = KafkaConfiguration(bootstrapServers: try StackEnvironment.shared.kafkaBootstrapServers)
        let topic = "api-console-\(UUID().uuidString.prefix(8))"
        _ = try await DevBrokerControlClient(address: try StackEnvironment.shared.devBrokerControl).send("topic \(topic) 3 3")
        let f = try await APIFixture.make(kafka: kafka, topic: topic, console: true)
        let db = try await f.connection()
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let events = makeEvents(symbols: ["AAPL", "ES.FUT"], perSymbol: 60, start: now - 3_000_000_000_000, spacingNanos: 20_000_000_000)
        _ = try await EventTableWriter(connection: db).write(events, ingestedAtNanos: now)
        try await StateCache(connection: try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: f.redis.port)))
            .apply(events.map(\.event))
        let alert = StoredEvent(event: GuardianEvent(eventID: .random(), symbol: "ES.FUT", seq: 1000, ts: now, kind: .circuitBreaker,
                                                     reason: "daily_loss_limit"), partition: 0, offset: 1000)
        let root = schemasURL.deletingLastPathComponent()
        let run = root.appendingPathComponent(".run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let ready = run.appendingPathComponent("console-ready-\(UUID().uuidString)").path
        let screenshot = run.appendingPathComponent("console.png").path
        let browser = try Child("/usr/bin/python3", [
            root.appendingPathComponent("Tests/console/console_test.py").path, "--url", "http://127.0.0.1:\(f.port)/",
            "--token", f.readToken, "--symbols", "AAPL,ES.FUT", "--alert-id", alert.event.eventID.description,
            "--ready-file", ready, "--screenshot", screenshot,
        ], environment: ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()])
        // The alert is stored only once the page is up and streaming.
        let deadline = ContinuousClock.now + .seconds(120)
        while !FileManager.default.fileExists(atPath: ready) && browser.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(FileManager.default.fileExists(atPath: ready), "the page signed in and streamed")
        _ = try await DurableBatchWriter(writer: EventTableWriter(connection: db), logger: Logger(label: "api-test"))
            .write(DurableBatch(events: [alert], refusedLetter: { _, _ in fatalError("no row is refused here") }), deliver: { _ in })
        let result = try await browser.wait(timeout: .seconds(120))
        try? FileManager.default.removeItem(atPath: ready)
        #expect(result.status == 0 && !result.timedOut, "\(result.stdout)\n\(result.stderr.suffix(3000))")
        #expect(FileManager.default.fileExists(atPath: screenshot))
        try await f.stop()
    }

    /// schemathesis (PyPI, installed by `make deps` into .run/tools) generates requests from
    /// schemas/openapi.json against a server with data: no answer may be a 5xx, or break the schema
    /// (status codes, content types, bodies). The stream is left out: it never ends.
    @Test func theServerHoldsToItsOpenAPIDocumentUnderGeneratedRequests() async throws {
        let root = schemasURL.deletingLastPathComponent()
        let runDir = ProcessInfo.processInfo.environment["GUARDIAN_RUN_DIR"] ?? root.appendingPathComponent(".run").path
        let schemathesis = runDir + "/tools/bin/schemathesis"
        try #require(FileManager.default.isExecutableFile(atPath: schemathesis), "\(schemathesis) is missing: run make deps (scripts/tools.sh)")
        let kafka = KafkaConfiguration(bootstrapServers: try StackEnvironment.shared.kafkaBootstrapServers)
        let topic = "api-schema-\(UUID().uuidString.prefix(8))"
        _ = try await DevBrokerControlClient(address: try StackEnvironment.shared.devBrokerControl).send("topic \(topic) 2 3")
        let f = try await APIFixture.make(kafka: kafka, topic: topic)
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        _ = try await EventTableWriter(connection: try await f.connection())
            .write(makeEvents(symbols: ["AAPL", "ES.FUT"], perSymbol: 60, start: now - 600_000_000_000, spacingNanos: 5_000_000_000), ingestedAtNanos: now)
        let result = try await ChildProcess.run(schemathesis, [
            "run", "http://127.0.0.1:\(f.port)/openapi.json", "-H", "Authorization: Bearer \(f.readToken)",
            "--exclude-path", "/v1/alerts/stream", "--max-examples", "40", "--seed", "20261205",
            "-c", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ], environment: ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"],
           timeout: .seconds(600))
        #expect(result.status == 0 && !result.timedOut, "\(result.stdout.suffix(6000))\n\(result.stderr.suffix(2000))")
        #expect(result.stdout.contains("No issues found"), "\(result.stdout.suffix(3000))")
        try await f.stop()
    }

    /// Every connection of the API killed by the database (a failover, an admin's pg_terminate_backend):
    /// requests answer again (a 503 problem at worst, never a bare 500), and an alert stored while the
    /// alert listener was cut off still reaches an open stream once it has reconnected.
    @Test func theAPIRidesOutItsDatabaseConnectionsBeingKilled() async throws {
        let f = try await APIFixture.make()
        let db = try await f.connection()
        let writer = DurableBatchWriter(writer: EventTableWriter(connection: db), logger: Logger(label: "api-test"))
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        _ = try await EventTableWriter(connection: db).write(makeEvents(symbols: ["AAPL"], perSymbol: 5, start: now - 10_000_000_000), ingestedAtNanos: now)
        let stream = try SSEClient(port: f.port, path: "/v1/alerts/stream", token: f.readToken)
        #expect(await stream.started(timeout: .seconds(30)))
        #expect(try await f.get("/v1/symbols").status == 200)

        let killed = try await db.query("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
            """).scalar
        #expect((Int(killed ?? "0") ?? 0) >= 2, "the API's pool and its listener were connected: \(killed ?? "?")")
        // Stored while the listener is cut off: its notification goes to nobody.
        let alert = StoredEvent(event: GuardianEvent(eventID: .random(), symbol: "AAPL", seq: 99, ts: now, kind: .circuitBreaker, reason: "loss"),
                                partition: 0, offset: 99)
        _ = try await writer.write(DurableBatch(events: [alert], refusedLetter: { _, _ in fatalError("no row is refused here") }), deliver: { _ in })

        var statuses: [Int] = []
        for _ in 0..<10 {
            let r = try await f.get("/v1/symbols")
            statuses.append(r.status)
            #expect(r.status == 200 || (r.status == 503 && r.type == "application/problem+json"), "\(r)")
        }
        #expect(statuses.last == 200, "\(statuses)")
        let got = await stream.messages(count: 1, timeout: .seconds(30))
        #expect(got.map(\.id) == [EventQueries.Cursor(tsMicros: alert.event.ts / 1000, eventID: alert.event.eventID).description],
                "the alert stored while the listener was down arrives after it reconnects")
        try await f.stop()
    }

    @Test func aTokenOverItsRateLimitGets429WithRetryAfter() async throws {
        // One request per 20 s after a burst of 3: however slow the machine, no token refills during the test.
        let f = try await APIFixture.make(rateLimitPerSecond: 0.05, burst: 3)
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<5 {
            let r = try await f.get("/v1/symbols")
            statuses.append(r.status)
            if r.status == 429 { retryAfter = (r.headers["Retry-After"] ?? r.headers["retry-after"]) as? String }
        }
        #expect(statuses == [200, 200, 200, 429, 429], "\(statuses)")
        #expect(retryAfter.flatMap { Int($0) }.map { (1...20).contains($0) } == true, "\(String(describing: retryAfter))")
        try await f.stop()
    }
}

@Suite struct RateLimiterTests {
    @Test func aBurstThenOneRequestPerRefill() {
        let limiter = RateLimiter(perSecond: 2, burst: 3)
        let t0 = ContinuousClock.now
        #expect((0..<3).map { _ in limiter.admit("a", now: t0) } == [nil, nil, nil])
        #expect(limiter.admit("a", now: t0) == 1, "empty: wait a second (rounded up)")
        #expect(limiter.admit("b", now: t0) == nil, "buckets are per token")
        #expect(limiter.admit("a", now: t0 + .milliseconds(500)) == nil, "half a second refills one at 2/s")
        #expect(limiter.admit("a", now: t0 + .milliseconds(500)) != nil)
        #expect((0..<3).map { _ in limiter.admit("a", now: t0 + .seconds(60)) } == [nil, nil, nil], "never more than the burst")
        #expect(limiter.admit("a", now: t0 + .seconds(60)) != nil)
    }
}

@Suite struct FleetAlertRulesTests {
    typealias O = FleetAlertRules.Observation

    @Test func lagAlertsOnEnteringAndLeavingASevereStatusOnly() {
        var rules = FleetAlertRules(group: "g", topic: "t")
        #expect(rules.observe(O(micros: 1, groupStatus: .ok)).isEmpty)
        #expect(rules.observe(O(micros: 2, groupStatus: .warn)).isEmpty, "WARN alone is not an alert")
        let stall = rules.observe(O(micros: 3, groupStatus: .stall, partitionStatuses: [0: .ok, 3: .stall, 1: .stall]))
        #expect(stall.map(\.type) == ["lag_stall"] && stall.first?.reason == "group g on t is STALL on partitions 1,3", "\(stall)")
        #expect(rules.observe(O(micros: 4, groupStatus: .stall)).isEmpty, "no repeat while it lasts")
        #expect(rules.observe(O(micros: 5, groupStatus: .stop)).map(\.type) == ["lag_stop"], "worse is news")
        #expect(rules.observe(O(micros: 6, groupStatus: nil)).isEmpty, "a failed sample says nothing")
        #expect(rules.observe(O(micros: 7, groupStatus: .warn)).map(\.type) == ["lag_ok"])
        #expect(rules.observe(O(micros: 8, groupStatus: .ok)).isEmpty)
    }

    @Test func redisAndDeadLettersAlertOnChange() {
        var rules = FleetAlertRules(group: "g", topic: "t")
        #expect(rules.observe(O(micros: 1, redisReachable: true, deadLetters: ["poison": 2])).isEmpty, "the first count is the baseline")
        #expect(rules.observe(O(micros: 2, redisReachable: false, deadLetters: ["poison": 2])).map(\.type) == ["cache_down"])
        #expect(rules.observe(O(micros: 3, redisReachable: false, deadLetters: nil)).isEmpty)
        let both = rules.observe(O(micros: 4, redisReachable: true, deadLetters: ["poison": 5, "oversized": 1]))
        #expect(both.map(\.type) == ["cache_up", "dead_letters"])
        #expect(both.last?.reason == "4 new dead letters (oversized: 1, poison: 3), 6 in all", "\(both)")
        #expect(both.allSatisfy { $0.isFleet && $0.cursor == nil && $0.id == "fleet_4_\($0.type)" })
    }
}

@Suite struct ParameterTests {
    /// schemathesis once sent `bucket=0496107774729870067h`: n × 3600 overflowed and the server crashed.
    @Test func hugeOrOddBucketsAreRefusedNotOverflowed() throws {
        for bad in ["0496107774729870067h", "9223372036854775807s", "0m", "-1m", "2d", "86401s", "m", "1x", ""] {
            #expect(throws: APIProblem.self, "\(bad)") { try APIServer.bucketSeconds(bad) }
        }
        #expect(try APIServer.bucketSeconds("1d") == 86_400 && APIServer.bucketSeconds("15m") == 900 && APIServer.bucketSeconds("86400s") == 86_400)
    }

    @Test func aCursorOutsideYears1To9999IsNoCursor() {
        #expect(EventQueries.Cursor("99999999999999999999_00000000-0000-0000-0000-000000000000") == nil)
        #expect(EventQueries.Cursor("253402300800000000_00000000-0000-0000-0000-000000000000") == nil)
        #expect(EventQueries.Cursor("1796438763335677_00e6f917-b416-4080-9cf4-0f82597f037d") != nil)
    }
}

@Suite struct EventJSONTests {
    /// The event document built the plain way (a dictionary through JSONSerialization): the oracle.
    static func document(_ e: GuardianEvent) -> [String: Any] {
        func value(_ v: Any?) -> Any { v ?? NSNull() }
        return [
            "event_id": e.eventID.description, "symbol": e.symbol, "seq": e.seq, "ts": RFC3339.string(micros: e.ts / 1000), "kind": e.kind.rawValue,
            "decision": value(e.decision?.rawValue), "reason": value(e.reason), "side": value(e.side?.rawValue),
            "qty": value(e.qty), "price": value(e.price), "position": value(e.position), "exposure": value(e.exposure),
            "realized_pnl": value(e.realizedPnl), "unrealized_pnl": value(e.unrealizedPnl), "latency_us": value(e.latencyUs),
            "attrs": value(e.attrs.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed]) }),
        ]
    }

    /// The direct writer says what JSONSerialization of the dictionary document says, field for field;
    /// an alert's JSON holds the event's and parses.
    @Test func theWriterMatchesTheDictionaryDocument() throws {
        let odd = GuardianEvent(eventID: .random(), symbol: "A\"B\\C/é", seq: 7, ts: -1_000, kind: .riskBreach, decision: .deny,
                                reason: "line\nbreak \u{1} tab\t", side: .sell, qty: 0.1, price: 1e-7, position: -3, exposure: 12345.678,
                                realizedPnl: nil, unrealizedPnl: 1e20, latencyUs: 42, attrs: #"{"desk":"eq1","n":[1,2]}"#)
        let plain = makeEvents(symbols: ["ES.FUT"], perSymbol: 3, start: 1_796_437_072_713_858_000).map(\.event)
        for e in [odd] + plain {
            var text = ""
            EventJSON.append(e, to: &text)
            let written = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary, "\(text)")
            let expected = try #require(try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: Self.document(e))) as? NSDictionary)
            #expect(written == expected, "\(text)")
            let alert = try #require(try JSONSerialization.jsonObject(with: Data(Alert(event: e).json.utf8)) as? NSDictionary, "\(Alert(event: e).json)")
            #expect(alert["event"] as? NSDictionary == expected && alert["type"] as? String == e.kind.rawValue
                    && alert["symbol"] as? String == e.symbol && alert["id"] as? String == e.eventID.description)
        }
    }

    @Test func timesMatchFoundationsFormatter() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        // From 1600 on: Foundation's calendar is Julian before 1582, PostgreSQL's (and ours) proleptic Gregorian.
        for micros: Int64 in [0, -1, 1, 951_782_400_000_000, 1_796_437_072_713_858, -11_676_096_000_000_000, 253_402_300_799_999_999,
                              4_107_542_399_999_999] + (0..<200).map({ _ in Int64.random(in: -11_676_096_000_000_000...253_402_300_799_999_999) }) {
            let text = RFC3339.string(micros: micros)
            let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
            let whole = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
            #expect(text.prefix(19) == whole.prefix(19), "\(micros): \(text) vs \(whole)")
            #expect(JSONDocument.micros(text) == micros, "\(text) reads back")
        }
        #expect(RFC3339.micros("2026-12-05T03:00:00.5+01:00") == RFC3339.micros("2026-12-05T02:00:00.500000Z"))
        #expect(RFC3339.micros("2026-12-05T02:00:00.1234567Z") == RFC3339.micros("2026-12-05T02:00:00.123456Z"))
        for bad in ["2026-02-30T00:00:00Z", "2026-12-05T24:00:00Z", "2026-12-05T02:00:00", "2026-12-05T02:00:00.Z", "yesterday", "0000-01-01T00:00:00Z",
                    "2026-12-05T02:00:00+1:00", "2026-12-05T02:00:00Zjunk"] {
            #expect(RFC3339.micros(bad) == nil, "\(bad)")
        }
    }
}

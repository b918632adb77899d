import Foundation
import GuardianEvents
import GuardianHTTP
import GuardianOperations
import GuardianPostgres
import GuardianStores
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// `guardian api`: what the fleet stores, over HTTP. Every `/v1` route needs a bearer token of
/// `guardian api token create` (scope `read` or `operate`), is rate-limited per token, and answers
/// JSON (snake_case, RFC 3339 times) or RFC 9457 problem details. Reads go through `GuardianStores`
/// (`EventQueries`): no SQL here. `/healthz`, `/readyz`, `/metrics` as the worker's;
/// `/openapi.json` is the contract (`schemas/openapi.json`).
public struct APIServer: Sendable {
    public let configuration: APIConfiguration
    private let pool: DatabasePool
    private let tokens: APITokens
    private let limiter: RateLimiter
    private let states: StateReader
    private let staleness: CacheStaleness
    private let fleet: FleetMonitor
    let alerts: AlertStream
    private let webhooks: AlertWebhooks
    /// nil without Kafka (or when its clients could not be made: `resetterProblem` says why).
    private let resetter: OffsetResetter?
    private let resetterProblem: String?
    private let openAPI: Data
    private let logger: Logger

    /// - Parameter openAPI: the OpenAPI document served at `/openapi.json`.
    public init(configuration: APIConfiguration, openAPI: Data, logger: Logger) {
        self.configuration = configuration
        self.pool = DatabasePool(configuration: configuration.postgres, size: configuration.databaseConnections)
        self.tokens = APITokens(pool: pool, cacheTTL: configuration.tokenCacheTTL)
        self.limiter = RateLimiter(perSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst)
        self.states = StateReader(configuration: configuration.redis)
        self.staleness = CacheStaleness(pool: pool)

        let alerts = AlertStream(configuration: configuration.postgres, pool: pool, logger: logger)
        self.alerts = alerts
        self.webhooks = AlertWebhooks(urls: configuration.webhookURLs, kinds: configuration.alertKinds, alerts: alerts, pool: pool,
                                      group: configuration.group, logger: logger, retryBase: configuration.webhookRetryBase)
        self.fleet = FleetMonitor(
            kafka: configuration.kafka, group: configuration.group, topic: configuration.topic, interval: configuration.lagInterval,
            logger: logger,
            probes: .init(
                redisReachable: { [states] in await states.isReachable() },
                deadLetters: { [pool] in try await pool.run { try await EventQueries(connection: $0).deadLetterCounts() } },
                publish: { alerts.publish(fleet: $0) }))
        if let kafka = configuration.kafka {
            do {
                self.resetter = try OffsetResetter(kafka: kafka, logger: logger)
                self.resetterProblem = nil
            } catch {
                self.resetter = nil
                self.resetterProblem = "the Kafka clients could not be made: \(error)"
            }
        } else {
            self.resetter = nil
            self.resetterProblem = "no Kafka configured (KAFKA_BOOTSTRAP_SERVERS)"
        }
        self.openAPI = openAPI
        self.logger = logger
    }

    static let lastEventID = HTTPFields.Element.Name("Last-Event-ID")!

    /// The services to run: the HTTP application, the fleet monitor, the alert listener (shut down
    /// before the HTTP server, ending the open alert streams so it can drain) and the chat webhooks. `onRunning` gets the bound port.
    public func services(registry: PrometheusCollectorRegistry, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> [any Service] {
        [application(registry: registry, onRunning: onRunning), fleet, alerts, webhooks]
    }

    func application(registry: PrometheusCollectorRegistry, onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware(logger: logger))
        if let console = configuration.consoleDirectory { router.add(middleware: ConsoleFiles(directory: console, logger: logger)) }
        MetricsServer.addOperationalRoutes(to: router, registry: registry) { [pool] in
            let up = (try? await pool.run { try await $0.query("SELECT 1").scalar }) == "1"
            return (up, up ? #"{"ready":true,"database":"up"}"# : #"{"ready":false,"database":"down"}"#)
        }
        let openAPI = self.openAPI
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
        }
        router.get("v1/symbols", use: authed(.read) { [pool] _, _, _ in
            let symbols = try await pool.run { try await EventQueries(connection: $0).symbols() }
            return try JSONDocument.response(["symbols": symbols.map {
                ["symbol": $0.symbol, "seq": $0.seq, "ts": JSONDocument.time(nanos: $0.ts), "kind": $0.kind] as [String: Any]
            }])
        })
        router.get("v1/symbols/{symbol}/state", use: authed(.read) { [pool, states, staleness] _, context, _ in
            let symbol = try Self.symbol(context)
            let stale = await staleness.isStale
            let event: GuardianEvent
            var source = "redis"
            if !stale, let cached = await states.fromRedis(symbol: symbol) {
                event = cached
            } else {
                guard let stored = try await pool.run({
                    try await EventQueries(connection: $0).latest(symbol: symbol, nowMicros: Int64(Date().timeIntervalSince1970 * 1_000_000))
                }) else {
                    throw APIProblem(.notFound, "not found", "no event of symbol '\(symbol)' is stored")
                }
                event = stored
                source = "timescaledb"
            }
            // The event's JSON with the source (and the staleness) added: written directly, it is the hot read.
            var body = ""
            body.reserveCapacity(512)
            EventJSON.append(event, to: &body)
            body.removeLast()
            body += #","source":""# + source + "\""
            if stale { body += #","cache_stale":true"# }
            body += "}"
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        })
        router.get("v1/symbols/{symbol}/events", use: authed(.read) { [pool] request, context, _ in
            let symbol = try Self.symbol(context)
            let q = request.uri.queryParameters
            let from = try Self.time(q, "from"), to = try Self.time(q, "to")
            let limit = try Self.integer(q, "limit", default: 100, range: 1...1000)
            var kind: String?
            if let k = q.get("kind") {
                guard EventKind(rawValue: k) != nil else {
                    throw APIProblem.badParameter("kind", "one of \(EventKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kind = k
            }
            var cursor: EventQueries.Cursor?
            if let c = q.get("cursor") {
                guard let parsed = EventQueries.Cursor(c) else { throw APIProblem.badParameter("cursor", "not a cursor of this API (use next_cursor as given)") }
                cursor = parsed
            }
            let page = try await pool.run {
                try await EventQueries(connection: $0).events(symbol: symbol, fromMicros: from, toMicros: to, kind: kind, limit: limit, after: cursor)
            }
            var body = #"{"events":["#
            body.reserveCapacity(page.events.count * 400 + 100)
            for (i, e) in page.events.enumerated() {
                if i > 0 { body += "," }
                EventJSON.append(e, to: &body)
            }
            body += #"],"next_cursor":"#
            EventJSON.string(page.next?.description, &body)
            body += "}"
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        })
        router.get("v1/symbols/{symbol}/rollups", use: authed(.read) { [pool] request, context, _ in
            let symbol = try Self.symbol(context)
            let q = request.uri.queryParameters
            let bucket = try Self.bucketSeconds(q.get("bucket") ?? "1m")
            // By default the hour up to the end of the current bucket, on bucket boundaries (whole minutes
            // are summed from the continuous aggregate where there is one).
            let step = Int64(bucket) * 1_000_000
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            let to = try Self.time(q, "to") ?? ((now / step) + 1) * step
            let from = try Self.time(q, "from") ?? (to - (3_600_000_000 + step - 1) / step * step)
            guard from < to else { throw APIProblem.badParameter("from", "must be before to") }
            guard (to - from) / (Int64(bucket) * 1_000_000) <= 10_000 else {
                throw APIProblem.badParameter("bucket", "more than 10000 buckets in [from, to): use a wider bucket or a shorter range")
            }
            let (buckets, fromAggregate) = try await pool.run {
                try await EventQueries(connection: $0).rollups(symbol: symbol, bucketSeconds: bucket, fromMicros: from, toMicros: to)
            }
            return try JSONDocument.response(["source": fromAggregate ? "continuous_aggregate" : "events", "buckets": buckets.map { b -> [String: Any] in
                ["bucket": JSONDocument.time(micros: b.startMicros), "events": b.events, "denies": b.denies, "breaches": b.breaches,
                 "circuit_breakers": b.circuitBreakers, "exposure_max": JSONDocument.value(b.exposureMax),
                 "realized_pnl_last": JSONDocument.value(b.realizedPnlLast)]
            }])
        })
        router.get("v1/alerts", use: authed(.read) { [pool, alerts] request, _, _ in
            let q = request.uri.queryParameters
            let since = try Self.time(q, "since") ?? (Int64(Date().timeIntervalSince1970 * 1_000_000) - 86_400_000_000)
            let limit = try Self.integer(q, "limit", default: 100, range: 1...1000)
            let events = try await pool.run { try await EventQueries(connection: $0).alertEvents(sinceMicros: since, limit: limit) }
            let merged = (events.map(Alert.init(event:)) + alerts.recentFleet(sinceMicros: since))
                .sorted { ($0.tsMicros, $0.id) > ($1.tsMicros, $1.id) }.prefix(limit)
            // Each alert's JSON is already serialized: the document is assembled around them.
            let body = #"{"alerts":["# + merged.map(\.json).joined(separator: ",") + "]}"
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        })
        router.get("v1/alerts/stream", use: authed(.read) { [pool, alerts] request, _, _ in
            var backlog: [Alert] = []
            var resumeFrom: EventQueries.Cursor?
            if let last = request.headers[Self.lastEventID] {
                guard let cursor = EventQueries.Cursor(last) else {
                    throw APIProblem.badParameter("Last-Event-ID", "the id of an alert this stream sent")
                }
                resumeFrom = cursor
            }
            // Subscribed before the backlog is read: an alert stored in between is in one or the other.
            guard let subscription = alerts.subscribe() else {
                throw APIProblem(.serviceUnavailable, "shutting down", "the API is shutting down; reconnect to another instance")
            }
            if let resumeFrom {
                do {
                    backlog = try await pool.run { try await EventQueries(connection: $0).alertEvents(after: resumeFrom, limit: 1000) }
                        .map(Alert.init(event:))
                } catch {
                    alerts.unsubscribe(subscription.id)
                    throw error
                }
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { [backlog] writer in
                    defer { alerts.unsubscribe(subscription.id) }
                    try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
                    var sent = Set<String>()
                    for alert in backlog {
                        try await writer.write(ByteBuffer(string: alert.serverSentEvent))
                        sent.insert(alert.id)
                    }
                    for await item in subscription.messages {
                        if case .alert(let a) = item, sent.contains(a.id) { continue }
                        try await writer.write(ByteBuffer(string: item.serverSentEvent))
                    }
                    try await writer.finish(nil)
                })
        })
        router.get("v1/fleet", use: authed(.read) { [pool, fleet, states, staleness] _, _, _ in
            let snapshot = fleet.snapshot
            let deadLetters = try await pool.run { try await EventQueries(connection: $0).deadLetterCounts() }
            let workers = try await pool.run { try await CacheStatus(connection: $0).workers() }
            let partitions = (snapshot.sample?.partitions ?? []).map { p -> [String: Any] in
                ["partition": Int(p.partition), "committed": JSONDocument.value(p.committed), "end": p.end, "lag": p.lag,
                 "time_lag_s": JSONDocument.value(p.timeLagSeconds), "status": (snapshot.statuses[p.partition] ?? .ok).rawValue]
            }
            return try JSONDocument.response([
                "group": snapshot.sample?.group ?? "", "topic": snapshot.sample?.topic ?? "",
                "sampled_at": JSONDocument.value(snapshot.sample.map { JSONDocument.time(micros: Int64($0.time * 1_000_000)) }),
                "status": snapshot.groupStatus.rawValue, "partitions": partitions, "lag_error": JSONDocument.value(snapshot.error),
                "dead_letters": ["total": deadLetters.values.reduce(0, +), "by_reason": deadLetters] as [String: Any],
                "workers": workers.map { ["worker": $0.worker, "cache_stale": $0.stale, "reported_at": $0.reportedAt] as [String: Any] },
                "cache": ["redis_reachable": await states.isReachable(),
                          "stale_workers": await staleness.staleWorkers().map { ["worker": $0.worker, "since": $0.since] }] as [String: Any],
            ])
        })
        // A dry run needs `read`; executing needs `operate`. Same plan, refusals and audit row as `guardian offsets reset`.
        router.post("v1/offsets/reset", use: authed(.read) { [pool, resetter, resetterProblem, configuration] request, _, identity in
            let buffer = try await request.body.collect(upTo: 64 * 1024)
            let data = Data(buffer.readableBytesView)
            let ask = try OffsetResetRequest(json: data)
            if ask.execute && identity.scope != .operate {
                throw APIProblem(.forbidden, "forbidden", "token '\(identity.name)' has scope read: it may preview (execute false); executing needs a token of scope operate")
            }
            guard let resetter else { throw APIProblem(.serviceUnavailable, "no kafka", resetterProblem ?? "no Kafka") }
            let group = ask.group ?? configuration.group
            let outcome: OffsetResetOperation.Outcome
            do {
                outcome = try await pool.run { db in
                    try await OffsetResetOperation(resetter: resetter).run(
                        group: group, topic: configuration.topic, target: ask.target, partitions: ask.partitions, execute: ask.execute,
                        database: db, actor: identity.name,
                        arguments: "POST /v1/offsets/reset " + String(decoding: data.prefix(2000), as: UTF8.self))
                }
            } catch let error as OperationError {
                throw APIProblem(operation: error)
            }
            let moves = outcome.plan.moves.map { m -> [String: Any] in
                var o: [String: Any] = ["partition": Int(m.partition), "old_offset": JSONDocument.value(m.old), "new_offset": m.new, "clamped": m.clamped]
                if let committed = outcome.committed { o["committed_now"] = JSONDocument.value(committed[m.partition] ?? nil) }
                return o
            }
            return try JSONDocument.response([
                "group": group, "topic": configuration.topic, "executed": outcome.executed, "partitions": moves,
                "time_method": JSONDocument.value(outcome.method?.rawValue), "membership_check": JSONDocument.value(outcome.check?.text),
                "checkpoints_lowered": outcome.checkpointsLowered.map { Int($0) }, "audit_id": JSONDocument.value(outcome.auditID),
                "mismatched": outcome.mismatched.map { Int($0) },
            ])
        })
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "guardian-api"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Wraps a handler: a valid token of at least `scope`, then the token's rate limit.
    private func authed(
        _ scope: APIIdentity.Scope,
        _ handler: @escaping @Sendable (Request, BasicRequestContext, APIIdentity) async throws -> Response
    ) -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { [tokens, limiter] request, context in
            guard let identity = try await tokens.verify(authorization: request.headers[.authorization]) else { throw APIProblem.unauthorized }
            if scope == .operate && identity.scope != .operate {
                throw APIProblem(.forbidden, "forbidden", "token '\(identity.name)' has scope read; this needs a token of scope operate")
            }
            if let wait = limiter.admit(identity.name) {
                throw APIProblem(.tooManyRequests, "too many requests",
                                 "token '\(identity.name)' is over its rate limit; retry in \(wait) s", retryAfter: wait)
            }
            return try await handler(request, context, identity)
        }
    }

    // MARK: parameters

    static func symbol(_ context: BasicRequestContext) throws -> String {
        let symbol = context.parameters.get("symbol") ?? ""
        guard SymbolRule.isValid(utf8: symbol.utf8) else {
            throw APIProblem.badParameter("symbol", "1-64 characters of A-Z a-z 0-9 . _ : / -")
        }
        return symbol
    }

    static func time(_ q: Parameters, _ name: String) throws -> Int64? {
        guard let text = q.get(name) else { return nil }
        guard let micros = JSONDocument.micros(text) else {
            throw APIProblem.badParameter(name, "an RFC 3339 time such as 2026-12-02T14:00:00Z")
        }
        return micros
    }

    static func integer(_ q: Parameters, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = q.get(name) else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw APIProblem.badParameter(name, "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// `30s`, `1m`, `5m`, `1h`, `1d`: seconds, from 1 s to 1 day.
    static func bucketSeconds(_ text: String) throws -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unit = text.last.flatMap({ units[$0] }), let n = Int(text.dropLast()), n > 0, n <= 86_400 / unit else {
            throw APIProblem.badParameter("bucket", "a duration such as 30s, 1m, 15m, 1h or 1d (at most 1d)")
        }
        return n * unit
    }
}

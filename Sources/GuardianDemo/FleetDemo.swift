#if canImport(Glibc)
import Glibc
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianPublisher
import GuardianRedis
import GuardianStores
import GuardianSupport
import Logging
import Synchronization

/// `make run`'s demo: a simulated trading engine publishes for a bounded time at a steady rate,
/// several `guardian worker` processes persist, a live line shows throughput, lag and latency every
/// second, and a final check verifies published = persisted, no duplicates, Redis = latest seq.
public struct FleetDemo: Sendable {
    public struct Options: Sendable {
        public var kafka: KafkaConfiguration
        public var topic: String
        public var group: String
        public var postgres: PostgresConfiguration
        public var redis: RedisConfiguration
        public var workers: Int
        public var symbols: Int
        public var rate: Int
        public var duration: Duration
        /// The `guardian` binary the workers run.
        public var guardianBinary: String
        public var schemas: URL
        /// Where worker logs go.
        public var logDirectory: String
        /// Adds a worker a third of the way through and stops one at two thirds, printing each worker's
        /// partitions as they move.
        public var scaleDemo: Bool = false
        /// The environment the worker processes start with (the demo sets the connection variables on
        /// top of it); the caller passes it, the library never reads its own.
        public var workerEnvironment: [String: String] = [:]

        public init(kafka: KafkaConfiguration, topic: String, group: String, postgres: PostgresConfiguration,
                    redis: RedisConfiguration, workers: Int, symbols: Int, rate: Int, duration: Duration,
                    guardianBinary: String, schemas: URL, logDirectory: String) {
            self.kafka = kafka
            self.topic = topic
            self.group = group
            self.postgres = postgres
            self.redis = redis
            self.workers = workers
            self.symbols = symbols
            self.rate = rate
            self.duration = duration
            self.guardianBinary = guardianBinary
            self.schemas = schemas
            self.logDirectory = logDirectory
        }
    }

    public let options: Options
    public let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs the demo; returns whether every check passed. `interrupted` is polled to stop early.
    public func run(interrupted: @escaping @Sendable () -> Bool) async throws -> Bool {
        let o = options
        let db = try await PostgresConnection.connect(o.postgres)
        let report = try await Migrator(connection: db, schemas: o.schemas, settings: StorageSettings(), logger: logger).migrate()
        print("demo: storage mode \(report.mode.rawValue); \(o.workers) workers, \(o.symbols) symbols, \(o.rate) events/s for \(o.duration)")
        let startNs = WallClock.nowNanoseconds() - 1_000_000

        let fleet = Fleet(try (0..<o.workers).map { try startWorker($0) })
        defer { stopWorkers(fleet.all) }
        var scaledUp = false, scaledDown = false
        var lastAssignment = ""

        // The simulated engine publishes at a steady rate in 10 ms ticks.
        let failures = Atomic<Int>(0)
        let producer = try KafkaProducer(configuration: o.kafka) { r in if r.error != nil { failures.add(1, ordering: .relaxed) } }
        let admin = try KafkaAdmin(configuration: o.kafka)
        var source = TradingSimulator(symbols: o.symbols)
        let encoder = EventEncoder()
        let clock = ContinuousClock()
        let begin = clock.now
        var published = 0
        var lastLine = begin
        var lastPublished = 0, lastPersisted = 0
        var pending: GuardianEvent?  // generated but refused by a full queue: sent first next tick
        while clock.now - begin < o.duration && !interrupted() {
            let due = Int(Double(o.rate) * (clock.now - begin).secondsDouble)
            while published < due {
                let e = pending ?? source.nextEvent(ts: WallClock.nowNanoseconds())
                do throws(KafkaError) {
                    try producer.produce(topic: o.topic, key: Array(e.symbol.utf8), value: encoder.encode(e), timestampMs: e.ts / 1_000_000)
                    published += 1
                    pending = nil
                } catch {
                    guard error.kind == .queueFull else { throw error }
                    pending = e
                    break
                }
            }
            let now = clock.now
            if now - lastLine >= .seconds(1) {
                let persisted = try await persistedCount(db, since: startNs)
                let line = try await liveLine(db, admin: admin, elapsed: now - begin, published: published,
                                              persisted: persisted, interval: (now - lastLine).secondsDouble,
                                              publishedDelta: published - lastPublished, persistedDelta: persisted - lastPersisted)
                print(line)
                if o.scaleDemo {
                    let elapsed = now - begin
                    if !scaledUp && elapsed >= o.duration / 3 {
                        scaledUp = true
                        print("demo: scaling up: adding a worker while publishing")
                        fleet.add(try startWorker(fleet.count))
                    } else if !scaledDown && elapsed >= o.duration * 2 / 3 {
                        scaledDown = true
                        if let first = fleet.running.first {
                            print("demo: scaling down: stopping worker-\(first.index + 1) (SIGTERM: it drains, commits and leaves)")
                            kill(first.process.processIdentifier, SIGTERM)
                        }
                    }
                    let assignment = await assignmentLine(fleet)
                    if assignment != lastAssignment {
                        print("demo: partitions  \(assignment)")
                        lastAssignment = assignment
                    }
                }
                lastLine = now
                lastPublished = published
                lastPersisted = persisted
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        if interrupted() {
            // Ctrl-C: stop promptly. The workers got the same SIGINT and drain on their own.
            try? await producer.flush(timeout: .seconds(5))
            print("demo: interrupted after publishing \(published) events; stopping the workers (no verification)")
            return false
        }
        try await producer.flush(timeout: .seconds(30))
        print("demo: published \(published) events (\(failures.load(ordering: .relaxed)) delivery failures); waiting for the fleet to catch up")

        // Drain: wait (bounded) until everything published is persisted and committed.
        let drainDeadline = clock.now + .seconds(60)
        var persisted = try await persistedCount(db, since: startNs)
        while persisted < published && clock.now < drainDeadline && !interrupted() {
            try await Task.sleep(for: .seconds(1))
            persisted = try await persistedCount(db, since: startNs)
            print(try await liveLine(db, admin: admin, elapsed: clock.now - begin, published: published, persisted: persisted,
                                     interval: 1, publishedDelta: 0, persistedDelta: 0))
        }
        let lagDeadline = clock.now + .seconds(30)
        var lag = try await totalLag(admin)
        while (lag ?? 1) > 0 && clock.now < lagDeadline && !interrupted() {
            try await Task.sleep(for: .milliseconds(500))
            lag = try await totalLag(admin)
        }
        return try await verify(db, published: published, startNs: startNs, highest: source.highestSeq, lag: lag,
                                deliveryFailures: failures.load(ordering: .relaxed))
    }

    // MARK: - Workers

    /// The worker processes started so far, with the port of each one's /readyz (0: none).
    final class Fleet: @unchecked Sendable {
        struct Member { var index: Int; var process: Process; var port: Int }
        private let lock = NSLock()
        private var members: [Member]
        init(_ members: [Member]) { self.members = members }
        func add(_ m: Member) { lock.withLock { members.append(m) } }
        var count: Int { lock.withLock { members.count } }
        var all: [Process] { lock.withLock { members.map(\.process) } }
        var running: [Member] { lock.withLock { members.filter { $0.process.isRunning } } }
    }

    /// `worker-1: 0,3,6  worker-2: 1,4,7 …` from each running worker's /readyz.
    private func assignmentLine(_ fleet: Fleet) async -> String {
        var parts: [String] = []
        for m in fleet.running where m.port > 0 {
            var owned = "?"
            if let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(m.port)/readyz")!),
               let body = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let ids = body["partitions"] as? [Int] {
                owned = ids.isEmpty ? "-" : ids.map(String.init).joined(separator: ",")
            }
            parts.append("worker-\(m.index + 1): \(owned)")
        }
        return parts.joined(separator: "  ")
    }

    private func startWorker(_ index: Int) throws -> Fleet.Member {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: options.guardianBinary)
        // With --scale-demo each worker serves /readyz (its partitions) on a port of its own.
        let port = options.scaleDemo ? (ListenAddress.freeLoopbackPort() ?? 0) : 0
        p.arguments = ["worker", "--metrics-port", String(port), "--group", options.group, "--topic", options.topic]
        var env = options.workerEnvironment
        env["KAFKA_BOOTSTRAP_SERVERS"] = options.kafka.bootstrapServers
        env["TIMESCALEDB_URI"] = options.postgres.uri
        env["REDIS_HOST"] = options.redis.host
        env["REDIS_PORT"] = String(options.redis.port)
        env["REDIS_DB"] = String(options.redis.database)
        if let u = options.redis.username { env["REDIS_USERNAME"] = u }
        if let p = options.redis.password { env["REDIS_PASSWORD"] = p }  // the environment, never argv
        env["GUARDIAN_WORKER_ID"] = "worker-\(index + 1)"
        p.environment = env
        let logPath = "\(options.logDirectory)/worker-\(index + 1).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        p.standardOutput = log
        p.standardError = log
        try p.run()
        print("demo: started worker-\(index + 1) (pid \(p.processIdentifier), log \(logPath))")
        return Fleet.Member(index: index, process: p, port: port)
    }

    /// SIGTERM (the workers drain, commit and leave the group), then SIGKILL after 30 s.
    private func stopWorkers(_ workers: [Process]) {
        for w in workers where w.isRunning { kill(w.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(30)
        for w in workers {
            while w.isRunning && Date() < deadline { usleep(100_000) }
            if w.isRunning { kill(w.processIdentifier, SIGKILL) }
            w.waitUntilExit()
        }
        print("demo: workers stopped")
    }

    // MARK: - Measurements

    private func persistedCount(_ db: PostgresConnection, since startNs: Int64) async throws -> Int {
        Int(try await db.query("SELECT count(*) FROM guardian_events WHERE ts >= to_timestamp($1::double precision / 1e9)",
                               [String(startNs)]).scalar ?? "") ?? 0
    }

    private func totalLag(_ admin: KafkaAdmin) async throws -> Int64? {
        try await admin.totalLag(groupID: options.group, topic: options.topic)
    }

    private func liveLine(_ db: PostgresConnection, admin: KafkaAdmin, elapsed: Duration, published: Int, persisted: Int,
                          interval: Double, publishedDelta: Int, persistedDelta: Int) async throws -> String {
        let lag = (try? await totalLag(admin)) ?? nil
        // Event time → row ingested, over the rows ingested in the last second.
        let p99 = try await db.query("""
            SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM ingested_at - ts))
            FROM guardian_events WHERE ingested_at > now() - interval '1 second'
            """).scalar.flatMap(Double.init)
        let secs = Int(elapsed.secondsDouble.rounded())
        let pubRate = interval > 0 ? Int(Double(publishedDelta) / interval) : 0
        let perRate = interval > 0 ? Int(Double(persistedDelta) / interval) : 0
        return String(format: "demo: t=%3ds  published %8d (%6d/s)  persisted %8d (%6d/s)  lag %6@  p99 e2e %@",
                      secs, published, pubRate, persisted, perRate, lag.map { "\($0)" } ?? "?",
                      p99.map { String(format: "%.1f ms", $0 * 1000) } ?? "-")
    }

    private func verify(_ db: PostgresConnection, published: Int, startNs: Int64, highest: [String: Int64], lag: Int64?,
                        deliveryFailures: Int) async throws -> Bool {
        let counts = try await db.query("""
            SELECT count(*), count(DISTINCT event_id) FROM guardian_events WHERE ts >= to_timestamp($1::double precision / 1e9)
            """, [String(startNs)]).rows[0]
        let rows = Int(counts[0] ?? "") ?? -1
        let distinct = Int(counts[1] ?? "") ?? -1
        let redis = try await RedisConnection.connect(options.redis)
        let symbols = highest.keys.sorted()
        let seqs = try await redis.pipeline(symbols.map { ["HGET", StateCache.stateKey($0), "seq"] })
        let mismatched = zip(symbols, seqs).filter { sym, v in v.integer != highest[sym] }.map(\.0)
        let checks: [(String, Bool)] = [
            ("every publish delivered (\(deliveryFailures) failures)", deliveryFailures == 0),
            ("published = rows in TimescaleDB (\(published) = \(rows))", published == rows),
            ("no duplicate event_id (\(distinct) distinct of \(rows))", distinct == rows),
            ("Redis seq per symbol = highest published (\(symbols.count - mismatched.count)/\(symbols.count) symbols\(mismatched.isEmpty ? "" : "; off: \(mismatched.prefix(5).joined(separator: ","))"))", mismatched.isEmpty),
            ("consumer lag drained to 0 (\(lag.map(String.init) ?? "unknown"))", lag == 0),
        ]
        print("demo: verification")
        for (what, ok) in checks { print("demo:   \(ok ? "ok  " : "FAIL") \(what)") }
        let ok = checks.allSatisfy(\.1)
        print("demo: \(ok ? "PASSED" : "FAILED")")
        return ok
    }
}

import Foundation
import GuardianDevBroker
import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianTestSupport
import GuardianWorker
import Logging
import Synchronization
import Testing

let schemasURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas")

let sessionProperties = ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"]

/// Everything one worker test needs of its own: a topic, a group, a migrated database, symbols.
struct WorkerFixture {
    let topic: String
    let group: String
    let partitions: Int
    let database: TemporaryDatabase
    let kafka: KafkaConfiguration
    let redis: RedisConfiguration
    let symbolPrefix: String

    /// A fixture on the stack's dev broker, or on `broker` (a cluster of the test's own, whose faults
    /// cannot disturb other tests).
    static func make(partitions: Int = 6, broker: DevBroker? = nil) async throws -> WorkerFixture {
        let env = StackEnvironment.shared
        let topic = uniqueName("events")
        if let broker {
            try broker.createTopic(topic, partitions: partitions, replicationFactor: 3)
            try broker.createTopic("\(topic).dlq", partitions: 1, replicationFactor: 3)
        } else {
            _ = try await DevBrokerControlClient(address: try env.devBrokerControl).send("topic \(topic) \(partitions) 3")
        }
        let database = try await TemporaryDatabase.create()
        let db = try await PostgresConnection.connect(database.configuration)
        _ = try await Migrator(connection: db, schemas: schemasURL, settings: StorageSettings(), logger: Logger(label: "test")).migrate()
        return WorkerFixture(
            topic: topic, group: uniqueName("workers"), partitions: partitions, database: database,
            // A short session timeout: the dev broker holds a group's rebalance for the session timeout of
            // members that left or died, and the tests start and stop members in the same group.
            kafka: KafkaConfiguration(bootstrapServers: try broker?.bootstrapServers ?? env.kafkaBootstrapServers, properties: sessionProperties),
            redis: RedisConfiguration(host: try env.redisHost, port: try env.redisPort, password: try env.redisPassword),
            symbolPrefix: String(UInt32.random(in: 0...UInt32.max), radix: 36).uppercased())
    }

    func symbol(_ i: Int) -> String { "\(symbolPrefix)-S\(i)" }

    func workerConfiguration(group: String? = nil, id: String = "test") -> WorkerConfiguration {
        WorkerConfiguration(
            kafka: kafka, topic: topic, group: group ?? self.group, postgres: database.configuration, redis: redis,
            batch: BatchPolicy(maxEvents: 500, maxAge: .milliseconds(20)), metricsPort: 0,
            lagInterval: .seconds(1), workerID: id, deadLetterTopic: "\(topic).dlq")
    }

    /// Publishes `count` valid events over `symbols` symbols (seq 0, 1, … per symbol), plus `invalid`
    /// malformed messages. Returns the highest seq per symbol.
    @discardableResult
    func publish(count: Int, symbols: Int, invalid: Int = 0, seqOffset: Int64 = 0) async throws -> [String: Int64] {
        let failures = Atomic<Int>(0)
        let producer = try KafkaProducer(configuration: kafka) { r in if r.error != nil { failures.add(1, ordering: .relaxed) } }
        let encoder = EventEncoder()
        var highest: [String: Int64] = [:]
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        for i in 0..<count {
            let symbol = self.symbol(i % symbols)
            let seq = seqOffset + Int64(i / symbols)
            let event = GuardianEvent(
                eventID: .random(), symbol: symbol, seq: seq, ts: now + Int64(i) * 1000, kind: i % 4 == 0 ? .position : .orderCheck,
                decision: .allow, side: .buy, qty: 10, price: 101.25, position: Double(i), latencyUs: 9)
            highest[symbol] = seq
            try producer.produce(topic: topic, key: Array(symbol.utf8), value: encoder.encode(event), timestampMs: event.ts / 1_000_000)
        }
        for i in 0..<invalid {
            try producer.produce(topic: topic, key: symbol(i % symbols), value: "{not json \(i)")
        }
        try await producer.flush(timeout: .seconds(60))
        #expect(failures.load(ordering: .relaxed) == 0)
        return highest
    }

    func rowCounts() async throws -> (rows: Int, distinct: Int) {
        let db = try await PostgresConnection.connect(database.configuration)
        let r = try await db.query("SELECT count(*), count(DISTINCT event_id) FROM guardian_events").rows[0]
        return (Int(r[0] ?? "") ?? -1, Int(r[1] ?? "") ?? -1)
    }

    func endOffsets() async throws -> [TopicPartitionOffset] {
        try await KafkaAdmin(configuration: kafka).endOffsets(topic: topic)
    }

    func committedOffsets(group: String? = nil) async throws -> [TopicPartitionOffset] {
        let ends = try await endOffsets()
        return try await KafkaAdmin(configuration: kafka).committedOffsets(groupID: group ?? self.group, partitions: ends.map(\.topicPartition))
    }

    /// True when the group has committed, for every partition, the end of the log: lag 0. A partition
    /// that never received a message (end offset 0; topics here are fresh) has nothing to commit, so
    /// no committed offset counts as 0 there.
    func caughtUp(group: String? = nil) async throws -> Bool {
        let ends = try await endOffsets()
        let committed = try await KafkaAdmin(configuration: kafka).committedOffsets(groupID: group ?? self.group, partitions: ends.map(\.topicPartition))
        let byPartition = Dictionary(uniqueKeysWithValues: committed.map { ($0.topicPartition, $0.offset ?? 0) })
        return ends.allSatisfy { byPartition[$0.topicPartition] == ($0.offset ?? 0) }
    }

    /// True when exactly `rows` rows are stored and the group has committed the end of every partition.
    func stored(_ rows: Int) async throws -> Bool {
        guard try await rowCounts().rows == rows else { return false }
        return try await caughtUp()
    }

    /// The Redis state hash of every symbol: symbol → field → value.
    func redisState(symbols: Int) async throws -> [String: [String: String]] {
        let redis = try await RedisConnection.connect(self.redis)
        var out: [String: [String: String]] = [:]
        for i in 0..<symbols {
            let flat = try await redis.command(["HGETALL", StateCache.stateKey(symbol(i))]).array ?? []
            var h: [String: String] = [:]
            for j in stride(from: 0, to: flat.count - 1, by: 2) { h[flat[j].string ?? ""] = flat[j + 1].string }
            out[symbol(i)] = h
        }
        return out
    }

    /// The arguments of a `guardian worker` for this fixture; the rest of its settings come from
    /// `commandEnvironment`, as an operator would run it.
    func workerArguments(_ arguments: [String]) -> [String] {
        ["worker"] + arguments + sessionProperties.flatMap { ["--kafka", "\($0.key)=\($0.value)"] }
    }

    /// Starts a `guardian worker` for this fixture with `arguments` (no `--metrics-port`).
    func startWorker(_ arguments: [String], environment: [String: String] = [:]) throws -> Child {
        try Child(WorkerCrashTests.guardianBinary, workerArguments(arguments), environment: commandEnvironment.merging(environment) { $1 })
    }

    /// Starts a `guardian worker` serving /metrics on a free loopback port and returns it once it serves.
    /// The port is picked, then bound by the worker; when another process takes it in between, the worker
    /// refuses it before joining the group and this starts it again on another port.
    func startServingWorker(_ arguments: [String], environment: [String: String] = [:]) async throws -> (worker: Child, port: Int) {
        try await startServing({ workerArguments(["--metrics-port", String($0)] + arguments) }, environment: environment)
    }

    /// Starts `guardian <arguments(port)>` with the fixture's environment and returns it once it logs that
    /// it serves /metrics on 127.0.0.1:port; a port taken by another process meanwhile is picked again.
    func startServing(_ arguments: (Int) -> [String], environment: [String: String] = [:]) async throws -> (worker: Child, port: Int) {
        var lastError = ""
        for _ in 0..<5 {
            let port = try closedLoopbackPort()
            let child = try Child(WorkerCrashTests.guardianBinary, arguments(port), environment: commandEnvironment.merging(environment) { $1 })
            let deadline = ContinuousClock.now + .seconds(90)
            while ContinuousClock.now < deadline {
                let log = child.stderr
                if log.contains("serving /metrics") && log.contains("127.0.0.1:\(port)") { return (child, port) }
                if !child.isRunning { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            lastError = child.stderr
            guard !child.isRunning, lastError.contains("already in use") else { break }
        }
        Issue.record("the worker did not serve /metrics: \(lastError.suffix(2000))")
        throw CancellationError()
    }

    /// The fixture's environment as an operator would export it for `guardian` commands.
    var commandEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrapServers
        env["GUARDIAN_TOPIC"] = topic
        env["GUARDIAN_GROUP"] = group
        env["TIMESCALEDB_URI"] = database.uri
        env["REDIS_HOST"] = redis.host
        env["REDIS_PORT"] = String(redis.port)
        env["REDIS_PASSWORD"] = redis.password
        return env
    }

    /// Runs `guardian <arguments>` with the fixture's environment (plus `environment`) to its end, bounded
    /// by `timeout` (then killed and recorded as an issue), without blocking a test thread.
    func guardian(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)) async throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let r = try await ChildProcess.run(WorkerCrashTests.guardianBinary, arguments,
                                           environment: commandEnvironment.merging(environment) { $1 }, timeout: timeout)
        if r.timedOut { Issue.record("guardian \(arguments.joined(separator: " ")) still running after \(timeout); killed") }
        return (r.status, r.stdout, r.stderr)
    }

    /// Commits `offsets` for `group` as its only member, as an outside tool (kafka-consumer-groups
    /// --reset-offsets) would: guardian_checkpoints is not touched.
    func commitAsOutsideTool(group: String, _ offsets: [Int32: Int64]) async throws {
        let consumer = try KafkaConsumer(configuration: kafka, groupID: group)
        try await consumer.subscribe(topics: [topic])
        try await waitUntil("the committing member owns every partition") {
            _ = try await consumer.poll(maxMessages: 1, timeout: .milliseconds(100))
            return try await consumer.assignment().count == partitions
        }
        try await consumer.commit(offsets.map { TopicPartitionOffset(topic: topic, partition: $0.key, offset: $0.value) })
        try await consumer.close()
    }

    /// Waits (bounded) until `condition` holds, polling every 200 ms.
    func waitUntil(_ what: String, timeout: Duration = .seconds(90), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("timed out after \(timeout) waiting for: \(what)")
        throw CancellationError()
    }

    /// Runs `worker` until `done` holds, then stops it gracefully and waits for it to leave the group.
    func run(_ workers: [Worker], until what: String, timeout: Duration = .seconds(90), _ done: () async throws -> Bool) async throws {
        let tasks = workers.map { w in Task { try await w.run() } }
        defer { for w in workers { w.requestStop() } }
        do {
            try await waitUntil(what, timeout: timeout, done)
        } catch {
            for w in workers { w.requestStop() }
            for t in tasks { _ = try? await t.value }
            throw error
        }
        for w in workers { w.requestStop() }
        for t in tasks { try await t.value }
    }

    func cleanUp(symbols: Int) async throws {
        let redis = try await RedisConnection.connect(self.redis)
        try await redis.command(["DEL"] + (0..<symbols).map { StateCache.stateKey(symbol($0)) })
        try await database.drop()
    }
}

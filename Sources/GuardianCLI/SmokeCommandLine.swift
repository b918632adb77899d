import ArgumentParser
import Foundation
import GuardianKafka
import GuardianPostgres
import GuardianRedis
import GuardianSupport
import Synchronization

/// `guardian smoke`: a verified round trip through every server of the stack — produce keyed
/// messages, consume them through a consumer group, COPY them into PostgreSQL, update Redis,
/// commit the offsets — then check that nothing was lost or duplicated.
/// (`make run` runs it until the worker pipeline replaces it with the full demo.)
struct SmokeCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smoke",
        abstract: "Round-trip messages through Kafka, PostgreSQL and Redis and verify the result."
    )

    @Option(help: "Messages to produce.")
    var count: Int = 20_000

    @Option(help: "Distinct keys (symbols).")
    var symbols: Int = 64

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions

    @Option(help: "Give up after this many seconds.")
    var timeout: Int = 120

    func validate() throws {
        guard count > 0, symbols > 0 else { throw ValidationError("--count and --symbols must be positive") }
    }

    func run() async throws {
        let round = SmokeRoundTrip(
            kafka: try kafka.configuration(), postgres: store.postgres, redis: try store.redis,
            topic: kafka.resolvedTopic, count: count, symbols: symbols, timeout: .seconds(timeout))
        let ok = try await round.run()
        if !ok { throw ExitCode.failure }
    }
}

/// The smoke round trip itself.
struct SmokeRoundTrip {
    let kafka: KafkaConfiguration
    let postgres: PostgresConfiguration
    let redis: RedisConfiguration
    let topic: String
    let count: Int
    let symbols: Int
    let timeout: Duration

    func run() async throws -> Bool {
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let group = "guardian-smoke-\(runID)"
        print("smoke: run \(runID): \(count) messages over \(symbols) keys on topic \(topic)")
        print("smoke: kafka \(kafka.bootstrapServers) | postgres \(postgres.redactedURI) | redis \(redis.address)")

        let db = try await PostgresConnection.connect(postgres)
        try await db.execute("""
            CREATE TABLE IF NOT EXISTS guardian_smoke (
                run_id text NOT NULL, kafka_partition integer NOT NULL, kafka_offset bigint NOT NULL,
                symbol text NOT NULL, payload text NOT NULL, ingested_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (run_id, kafka_partition, kafka_offset))
            """)
        let cache = try await RedisConnection.connect(redis)
        let admin = try KafkaAdmin(configuration: kafka)
        let before = try await admin.endOffsets(topic: topic)

        // Produce.
        let delivered = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let producer = try KafkaProducer(configuration: kafka) { report in
            if report.error == nil { delivered.add(1, ordering: .relaxed) } else { failed.add(1, ordering: .relaxed) }
        }
        let start = ContinuousClock.now
        for i in 0..<count {
            let symbol = "SYM\(i % symbols)"
            let value = "{\"run\":\"\(runID)\",\"symbol\":\"\(symbol)\",\"seq\":\(i / symbols)}"
            while true {
                let result = Result { () throws(KafkaError) in try producer.produce(topic: topic, key: symbol, value: value) }
                guard case .failure(let error) = result else { break }
                guard error.kind == .queueFull else { throw error }
                try await Task.sleep(for: .milliseconds(5))  // librdkafka's queue is full: let it drain
            }
        }
        try await producer.flush(timeout: timeout)
        print("smoke: produced \(delivered.load(ordering: .relaxed)) in \(start.duration(to: .now)), failed \(failed.load(ordering: .relaxed))")

        // Consume from where the topic ended before we produced, persist, then commit.
        let consumer = try KafkaConsumer(configuration: kafka, groupID: group)
        try await consumer.subscribe(topics: [topic])
        var consumed = 0
        var lastReport = ContinuousClock.now
        let deadline = ContinuousClock.now + timeout
        var commits: [TopicPartition: Int64] = [:]
        while consumed < count && ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxMessages: 5000, timeout: .milliseconds(50))
            for e in batch.errors { print("smoke: consumer: \(e.error)") }
            let mine = batch.messages.filter { m in
                guard let start = before.first(where: { $0.topicPartition == m.topicPartition })?.offset else { return true }
                return m.offset >= start
            }
            if !mine.isEmpty {
                var writer = PostgresBinaryCopyWriter()
                var latest: [String: Int64] = [:]
                for m in mine {
                    writer.beginRow(fields: 5)
                    writer.appendText(runID)
                    writer.appendInt32(m.partition)
                    writer.appendInt64(m.offset)
                    writer.appendText(utf8: m.key ?? [])
                    writer.appendText(utf8: m.value)
                    latest[m.keyString ?? "", default: -1] = max(latest[m.keyString ?? "", default: -1], m.offset)
                }
                let payload = writer.finish()
                try await db.transaction { s in
                    try s.copyIn("COPY guardian_smoke (run_id, kafka_partition, kafka_offset, symbol, payload) FROM STDIN (FORMAT binary)", data: payload)
                }
                _ = try await cache.pipeline(latest.map { ["HSET", "guardian:smoke:\(runID):\($0.key)", "offset", "\($0.value)"] })
                consumed += mine.count
            }
            var next: [TopicPartition: Int64] = [:]
            for m in batch.messages { next[m.topicPartition] = max(next[m.topicPartition] ?? 0, m.offset + 1) }
            try await consumer.commit(next.map { TopicPartitionOffset($0.key, offset: $0.value) })
            commits.merge(next) { max($0, $1) }
            if lastReport.duration(to: .now) >= .seconds(1) {
                print("smoke: consumed \(consumed)/\(count)")
                lastReport = .now
            }
        }

        // Verify.
        let rows = try await db.query("SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM guardian_smoke WHERE run_id = $1", [runID])
        let keys = try await cache.pipeline((0..<symbols).map { ["EXISTS", "guardian:smoke:\(runID):SYM\($0)"] })
        try await consumer.close()

        let rowCount = Int(rows.rows.first?[0] ?? "") ?? -1
        let distinct = Int(rows.rows.first?[1] ?? "") ?? -1
        let redisKeys = keys.filter { $0.integer == 1 }.count
        let committedAtEnd = try await admin.totalLag(groupID: group, topic: topic) == 0
        let checks: [(String, Bool)] = [
            ("delivered = produced (\(delivered.load(ordering: .relaxed))/\(count))", delivered.load(ordering: .relaxed) == count),
            ("rows in PostgreSQL = produced (\(rowCount))", rowCount == count),
            ("no duplicate rows (\(distinct) distinct)", distinct == count),
            ("Redis keys = symbols (\(redisKeys)/\(symbols))", redisKeys == min(symbols, count)),
            ("committed offsets = end offsets", committedAtEnd),
        ]
        for (what, ok) in checks { print("smoke: \(ok ? "ok  " : "FAIL") \(what)") }
        let ok = checks.allSatisfy(\.1)
        print("smoke: \(ok ? "PASSED" : "FAILED") in \(start.duration(to: .now))")
        return ok
    }
}

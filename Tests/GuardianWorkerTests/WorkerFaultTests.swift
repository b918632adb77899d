#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GuardianEvents
import GuardianKafka
import GuardianOperations
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianTestSupport
import GuardianWorker
import Logging
import Testing

/// The failure policy, each case against real servers, ending with what a user would check: exact
/// rows, dead letters in the table and on the topic, committed = end offsets, Redis state per symbol.
@Suite struct WorkerFaultTests {
    let logger = Logger(label: "fault-test")

    /// One valid event as JSON, with `reason` set verbatim (already JSON-escaped).
    func eventJSON(symbol: String, seq: Int64, reason: String = #""ok""#, attrs: String = #"{"desk":"eq1"}"#) -> String {
        let ts = Int64(Date().timeIntervalSince1970 * 1e9) + seq
        return #"{"v":1,"event_id":"\#(EventID.random())","symbol":"\#(symbol)","seq":\#(seq),"ts":\#(ts),"kind":"order_check","decision":"deny","reason":\#(reason),"attrs":\#(attrs)}"#
    }

    func produce(_ f: WorkerFixture, _ messages: [(key: String, value: String)]) async throws {
        let producer = try KafkaProducer(configuration: f.kafka)
        for m in messages { try producer.produce(topic: f.topic, key: m.key, value: m.value) }
        try await producer.flush(timeout: .seconds(30))
    }

    /// Reads every message of `topic` from the beginning (bounded in time).
    func readAll(_ f: WorkerFixture, topic: String, expecting count: Int) async throws -> [KafkaMessage] {
        let consumer = try KafkaConsumer(configuration: f.kafka, groupID: uniqueName("dlq-reader"))
        try await consumer.subscribe(topics: [topic])
        var messages: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while messages.count < count && ContinuousClock.now < deadline {
            messages += try await consumer.poll(maxMessages: 100, timeout: .milliseconds(200)).messages
        }
        try await consumer.close()
        return messages
    }

    @Test func poisonIsDeadLetteredAndNeverStallsThePartition() async throws {
        let f = try await WorkerFixture.make(partitions: 3)
        let db = try await PostgresConnection.connect(f.database.configuration)
        // A rule the database enforces and the decoder does not know: a CHECK violation (SQLSTATE 23514).
        try await db.execute("ALTER TABLE guardian_events ADD CONSTRAINT test_refused CHECK (reason IS DISTINCT FROM 'refused by the database')")
        let symbols = 6, good = 600
        var messages: [(key: String, value: String)] = []
        var poison: [(key: String, value: String, reason: String)] = []
        for i in 0..<good {
            let s = f.symbol(i % symbols)
            messages.append((s, eventJSON(symbol: s, seq: Int64(i / symbols))))
            guard i % 100 == 50 else { continue }
            // Each poison message sits between good ones of the same partition.
            let p: [(String, String)] = [
                (eventJSON(symbol: s, seq: 10_000 + Int64(i), reason: #""a\u0000b""#), "invalid_value"),
                (eventJSON(symbol: s, seq: 20_000 + Int64(i), attrs: #"{"k":"x\u0000"}"#), "invalid_value"),
                ("{not json \(i)", "malformed"),
                (#"{"v":1,"symbol":"\#(s)","seq":1,"ts":1,"kind":"order_check"}"#, "missing_field"),
                (eventJSON(symbol: s, seq: 30_000 + Int64(i), attrs: #"{"blob":"\#(String(repeating: "x", count: 20_000))"}"#), "oversized"),
                (eventJSON(symbol: s, seq: 40_000 + Int64(i), reason: #""refused by the database""#), "database_refused"),
            ]
            for (value, reason) in p {
                messages.append((s, value))
                poison.append((s, value, reason))
            }
        }
        try await produce(f, messages)

        var configuration = f.workerConfiguration()
        configuration.maxEventBytes = 10_000
        let worker = Worker(configuration: configuration, logger: logger)
        try await f.run([worker], until: "every message stored or dead-lettered and committed") {
            try await f.caughtUp()
        }
        #expect(try await f.rowCounts() == (good, good), "every good event stored once; no poison in the events table")
        #expect(worker.statistics.deadLettered == poison.count)

        let rows = try await db.query("SELECT reason, error_code, topic, kafka_partition, kafka_offset, raw_value FROM guardian_dead_letters ORDER BY id").rows
        #expect(rows.count == poison.count, "each poison message recorded once")
        var byReason: [String: Int] = [:]
        for r in rows { byReason[r[0] ?? "", default: 0] += 1 }
        var expected: [String: Int] = [:]
        for p in poison { expected[p.reason, default: 0] += 1 }
        #expect(byReason == expected)
        #expect(rows.allSatisfy { $0[2] == f.topic && $0[3] != nil && $0[4] != nil })
        let refused = try await db.query("SELECT error_code FROM guardian_dead_letters WHERE reason = 'database_refused'").rows
        #expect(refused.allSatisfy { $0[0] == "postgres.query.23514" }, "\(refused)")

        let dlq = try await readAll(f, topic: f.workerConfiguration().deadLetterTopic, expecting: poison.count)
        #expect(dlq.count == poison.count, "each poison message on the dead-letter topic")
        #expect(Set(dlq.map(\.valueString)) == Set(poison.map(\.value)), "original values kept")
        #expect(dlq.allSatisfy { m in poison.contains { $0.key == m.keyString } }, "original keys kept")
        try await f.cleanUp(symbols: symbols)
    }

    /// Issue 16: `guardian replay` writes through the worker's durable-write path. A range no worker
    /// stored (an outage), holding messages that are not events and rows the database refuses: every
    /// good event stored once, each poison message dead-lettered in the table and on the topic (the
    /// replay used to count them and drop them), and the replay group's checkpoints at the end.
    @Test func aReplayDeadLettersWhatItCannotStoreAndRecordsItsCheckpoints() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let db = try await PostgresConnection.connect(f.database.configuration)
        try await db.execute("ALTER TABLE guardian_events ADD CONSTRAINT test_refused CHECK (reason IS DISTINCT FROM 'refused by the database')")
        let from = Int64(Date().timeIntervalSince1970 * 1000) - 1000
        var messages: [(key: String, value: String)] = []
        var poison: [(value: String, reason: String)] = []
        for i in 0..<200 {
            // 16 symbols: with 4, all of them fell into one of the 2 partitions about once in 8 runs.
            let s = f.symbol(i % 16)
            messages.append((s, eventJSON(symbol: s, seq: Int64(i / 16))))
            guard i % 100 == 30 else { continue }
            for (value, reason) in [("{not json \(i)", "malformed"),
                                    (eventJSON(symbol: s, seq: 40_000 + Int64(i), reason: #""refused by the database""#), "database_refused")] {
                messages.append((s, value))
                poison.append((value, reason))
            }
        }
        try await produce(f, messages)
        let to = Int64(Date().timeIntervalSince1970 * 1000) + 1000
        let group = uniqueName("replay")

        let r = try await f.guardian(["replay", "--from", TimeArgument.iso(from), "--to", TimeArgument.iso(to), "--margin-seconds", "0",
                                      "--group", group, "--no-cache"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("replay: 202 events read, 200 rows written, 0 already present"), "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("2 invalid messages and 2 rows the database refused were dead-lettered"), "\(r.stderr)")
        #expect(try await f.rowCounts() == (200, 200), "every good event stored once")

        let rows = try await db.query("SELECT reason, raw_value, worker FROM guardian_dead_letters ORDER BY kafka_partition, kafka_offset").rows
        #expect(rows.map { $0[0] ?? "" }.sorted() == poison.map(\.reason).sorted(), "each poison message recorded once: \(rows)")
        #expect(rows.allSatisfy { $0[2] == "replay:\(group)" })
        let dlq = try await readAll(f, topic: f.workerConfiguration().deadLetterTopic, expecting: poison.count)
        #expect(Set(dlq.map(\.valueString)) == Set(poison.map(\.value)), "each poison message on the dead-letter topic")

        let ends = try await f.endOffsets()
        try #require(ends.allSatisfy { ($0.offset ?? 0) > 0 }, "premise: every partition holds messages: \(ends)")
        let checkpoints = try await Checkpoints(connection: db).read(group: group, topic: f.topic)
        for e in ends {
            #expect(checkpoints[e.partition]?.nextOffset == e.offset, "the replay group's checkpoint at the end of partition \(e.partition)")
        }
        try await f.cleanUp(symbols: 16)
    }

    @Test func connectionsTerminatedMidLoadLoseAndDuplicateNothing() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        let symbols = 16, waves = 6, perWave = 1500
        let worker = Worker(configuration: f.workerConfiguration(), logger: logger)
        let task = Task { try await worker.run() }
        let admin = try await PostgresConnection.connect(f.database.configuration)
        var terminated = 0
        for wave in 0..<waves {
            try await f.publish(count: perWave, symbols: symbols, seqOffset: Int64(wave * perWave / symbols))
            guard wave % 2 == 1 else { continue }
            // Once the writer is writing this wave, cut every worker connection.
            let before = (wave - 1) * perWave
            try await f.waitUntil("the worker writes wave \(wave)") { try await f.rowCounts().rows > before }
            terminated += Int(try await admin.query("""
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'guardian'
                """).scalar ?? "0") ?? 0
        }
        try await f.waitUntil("everything stored and committed after three rounds of terminated connections") {
            let rows = try await f.rowCounts().rows
            guard rows == waves * perWave else { return false }
            return try await f.caughtUp()
        }
        worker.requestStop()
        try await task.value
        #expect(terminated >= 3, "the fault happened (\(terminated) connections terminated)")
        #expect(try await f.rowCounts() == (waves * perWave, waves * perWave), "nothing lost, nothing duplicated")
        #expect(worker.statistics.writeRetries > 0, "a write hit a terminated connection and was retried")
        try await f.cleanUp(symbols: symbols)
    }

    @Test func redisKilledAndRestartedEmptyIsResynced() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        let redis = try await PrivateRedis()
        var configuration = f.workerConfiguration()
        configuration.redis = RedisConfiguration(host: "127.0.0.1", port: redis.port)
        let symbols = 12
        let worker = Worker(configuration: configuration, logger: logger)
        let task = Task { try await worker.run() }
        defer { worker.requestStop() }

        try await f.publish(count: 1200, symbols: symbols)
        try await f.waitUntil("wave 1 stored and in Redis") {
            let rows = try await f.rowCounts().rows
            guard rows == 1200, !worker.health.cacheStale else { return false }
            return try await f.caughtUp()
        }
        redis.kill()
        let highest = try await f.publish(count: 1200, symbols: symbols, seqOffset: 100)
        try await f.waitUntil("wave 2 stored while Redis is down") {
            let rows = try await f.rowCounts().rows
            guard rows == 2400 else { return false }
            return try await f.caughtUp()
        }
        #expect(worker.health.cacheStale && !worker.health.redis.up, "stale while Redis is unreachable")
        #expect(worker.health.ready, "still ready: Redis is best-effort")
        // …and says so in the database, for readers of Redis such as the API.
        let db = try await PostgresConnection.connect(f.database.configuration)
        func reportedStale() async throws -> Bool {
            try await CacheStatus(connection: db).staleWorkers().map(\.worker) == [configuration.workerID]
        }
        try await f.waitUntil("the worker reports its cache stale", timeout: .seconds(30)) { try await reportedStale() }

        try await redis.start()  // back, and empty
        try await f.waitUntil("the cache re-synced", timeout: .seconds(30)) { !worker.health.cacheStale }
        try await f.waitUntil("the worker reports its cache fresh again", timeout: .seconds(30)) { try await !reportedStale() }
        var fixture = f
        fixture = WorkerFixture(topic: f.topic, group: f.group, partitions: f.partitions, database: f.database, kafka: f.kafka,
                                redis: configuration.redis, symbolPrefix: f.symbolPrefix)
        let state = try await fixture.redisState(symbols: symbols)
        for (symbol, seq) in highest { #expect(state[symbol]?["seq"] == "\(seq)", "\(symbol) right after the re-sync") }
        let members = try await RedisConnection.connect(configuration.redis).command(["SCARD", StateCache.symbolsKey]).integer
        #expect(members == Int64(symbols), "guardian:symbols restored")
        worker.requestStop()
        try await task.value
        try await f.database.drop()
    }

    /// Issue 16, item 5: events applied to Redis before their batch is durable, then Redis lost and
    /// re-synced from the database while that batch still waits: the re-sync must not move those symbols
    /// back to their older stored rows (and leave them there once the batch is durable).
    @Test func aRedisLostWhileABatchIsNotDurableIsResyncedWithoutMovingBack() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let redis = try await PrivateRedis()
        var configuration = f.workerConfiguration()
        configuration.redis = RedisConfiguration(host: "127.0.0.1", port: redis.port)
        let cached = WorkerFixture(topic: f.topic, group: f.group, partitions: f.partitions, database: f.database, kafka: f.kafka,
                                   redis: configuration.redis, symbolPrefix: f.symbolPrefix)
        let symbols = 4
        let worker = Worker(configuration: configuration, logger: logger)
        let task = Task { try await worker.run() }
        defer { worker.requestStop() }
        try await f.publish(count: 100, symbols: symbols)
        try await f.waitUntil("the first 100 stored, committed and cached") {
            guard try await f.stored(100), !worker.health.cacheStale else { return false }
            return try await cached.redisState(symbols: symbols).values.allSatisfy { $0["seq"] == "24" }
        }

        // The next write waits on a lock; its events reach Redis first (the cache stays live).
        let blocker = try await PostgresConnection.connect(f.database.configuration)
        _ = try await blocker.execute("BEGIN; LOCK TABLE guardian_events IN EXCLUSIVE MODE")
        let highest = try await f.publish(count: 100, symbols: symbols, seqOffset: 100)
        try await f.waitUntil("the new events are in Redis while their rows wait") {
            try await cached.redisState(symbols: symbols).allSatisfy { $0.value["seq"] == "\(highest[$0.key]!)" }
        }
        #expect(try await f.rowCounts().rows == 100, "their batch is not durable yet")

        // Redis is lost; the next update (another symbol) finds it gone, and the link re-syncs from the
        // database, which holds only the older rows of the first symbols.
        redis.kill()
        try await redis.start()
        let other = WorkerFixture(topic: f.topic, group: f.group, partitions: f.partitions, database: f.database, kafka: f.kafka,
                                  redis: configuration.redis, symbolPrefix: f.symbolPrefix + "X")
        try await other.publish(count: 4, symbols: 1)
        // The other symbol's update was missed and is applied by the re-sync: in Redis means re-synced.
        try await f.waitUntil("the cache re-synced", timeout: .seconds(60)) {
            guard !worker.health.cacheStale else { return false }
            return try await other.redisState(symbols: 1).values.first?["seq"] == "3"
        }
        _ = try await blocker.execute("COMMIT")
        try await f.waitUntil("everything stored") { try await f.stored(204) }
        let state = try await cached.redisState(symbols: symbols)
        for (symbol, seq) in highest { #expect(state[symbol]?["seq"] == "\(seq)", "\(symbol) kept its newest state") }
        worker.requestStop()
        try await task.value
        try await f.database.drop()
    }

    /// Issue 16: a batch whose partitions moved to another member while the database refused it is
    /// dropped (the new owner reads it again), not retried by its old owner: once the database is back,
    /// each event is written once, by one member.
    @Test func aFailingBatchWhosePartitionsMovedIsDroppedNotRetried() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        let admin = try await PostgresConnection.connect(f.database.configuration)
        try await admin.execute("ALTER DATABASE \(f.database.name) SET default_transaction_read_only = on")
        try await f.publish(count: 400, symbols: 8)
        var configuration = f.workerConfiguration(id: "first")
        configuration.maxRetryDelay = .milliseconds(500)
        let first = Worker(configuration: configuration, logger: logger)
        let firstTask = Task { try await first.run() }
        defer { first.requestStop() }
        try await f.waitUntil("the first member's write is refused and retried") { first.statistics.writeRetries >= 2 }
        #expect(first.ownedPartitions.count == 4)

        var secondConfiguration = f.workerConfiguration(id: "second")
        secondConfiguration.maxRetryDelay = .milliseconds(500)
        let second = Worker(configuration: secondConfiguration, logger: logger)
        let secondTask = Task { try await second.run() }
        defer { second.requestStop() }
        try await f.waitUntil("the partitions are shared") { first.ownedPartitions.count == 2 && second.ownedPartitions.count == 2 }
        try await f.waitUntil("the first member gave up its old batch") { first.statistics.droppedBatches >= 1 }

        try await admin.execute("ALTER DATABASE \(f.database.name) SET default_transaction_read_only = off")
        try await f.waitUntil("everything stored and committed") { try await f.stored(400) }
        #expect(try await f.rowCounts() == (400, 400))
        #expect(first.statistics.duplicates + second.statistics.duplicates == 0, "no event written twice")
        #expect(first.statistics.persisted + second.statistics.persisted == 400)
        first.requestStop()
        second.requestStop()
        try await firstTask.value
        try await secondTask.value
        try await f.database.drop()
    }

    /// The group's committed offsets are unusable (past the end of the log, as after a topic was
    /// recreated or offsets were reset by mistake; the dev broker cannot delete a group's offsets): the
    /// same group resumes from its own checkpoints in the database, never from the end and never from
    /// the start. (A new group name is a new group: it has no checkpoints and reads from the start.)
    @Test func aGroupWhoseCommittedOffsetsAreUnusableResumesFromItsCheckpoints() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        // 64 symbols: with 16, one of the 4 partitions got none (no checkpoint to resume from) about once in 25 runs.
        let symbols = 64
        try await f.publish(count: 2000, symbols: symbols)
        let ends = try await f.endOffsets()
        try #require(ends.allSatisfy { ($0.offset ?? 0) > 0 }, "premise: every partition holds messages: \(ends)")
        let first = Worker(configuration: f.workerConfiguration(), logger: logger)
        try await f.run([first], until: "the group caught up") { try await f.caughtUp() }

        try await f.commitAsOutsideTool(group: f.group, Dictionary(uniqueKeysWithValues: (0..<Int32(4)).map { ($0, Int64(1_000_000)) }))
        try await f.publish(count: 800, symbols: symbols, seqOffset: 200)
        let second = Worker(configuration: f.workerConfiguration(id: "second"), logger: logger)
        try await f.run([second], until: "the group caught up again") { try await f.stored(2800) }
        #expect(second.statistics.checkpointRestores == f.partitions, "every partition resumed from its checkpoint")
        #expect(second.statistics.consumed == 800, "only the new events were read: nothing skipped, nothing re-read")
        #expect(second.statistics.duplicates == 0)
        #expect(try await f.rowCounts() == (2800, 2800))
        try await f.cleanUp(symbols: symbols)
    }

    /// A batch's dead letter goes to the dead-letter topic once, however many times the database write
    /// of its batch is retried (the dead letters are delivered before every attempt's transaction).
    @Test func aDeadLetterIsProducedOnceWhileItsBatchIsRetried() async throws {
        let f = try await WorkerFixture.make(partitions: 1)
        let admin = try await PostgresConnection.connect(f.database.configuration)
        try await admin.execute("ALTER DATABASE \(f.database.name) SET default_transaction_read_only = on")
        var messages = (0..<50).map { i in (key: f.symbol(0), value: eventJSON(symbol: f.symbol(0), seq: Int64(i))) }
        messages.insert((f.symbol(0), "{not json"), at: 20)
        try await produce(f, messages)
        let worker = Worker(configuration: f.workerConfiguration(), logger: logger)
        let task = Task { try await worker.run() }
        defer { worker.requestStop() }
        try await f.waitUntil("the batch was refused and retried 3 times") { worker.statistics.writeRetries >= 3 }
        try await admin.execute("ALTER DATABASE \(f.database.name) SET default_transaction_read_only = off")
        try await f.waitUntil("everything stored and committed") { try await f.caughtUp() }
        #expect(try await f.rowCounts() == (50, 50))
        let dlq = try await KafkaAdmin(configuration: f.kafka).endOffsets(topic: f.workerConfiguration().deadLetterTopic)
        #expect(dlq.reduce(0) { $0 + ($1.offset ?? 0) } == 1, "one dead letter on the topic: \(dlq)")
        #expect(try await admin.query("SELECT count(*) FROM guardian_dead_letters").scalar == "1")
        worker.requestStop()
        try await task.value
        try await f.cleanUp(symbols: 1)
    }

    /// A database that refuses writes for a while (read-only, as during a failover: SQLSTATE 25006) is
    /// an outage, not poison: the batch is retried, nothing is dead-lettered or committed meanwhile,
    /// and everything is stored once when it accepts writes again.
    @Test func aReadOnlyDatabaseIsRetriedNeverDeadLettered() async throws {
        let f = try await WorkerFixture.make(partitions: 3)
        let admin = try await PostgresConnection.connect(f.database.configuration)
        try await admin.execute("ALTER DATABASE \(f.database.name) SET default_transaction_read_only = on")
        try await f.publish(count: 600, symbols: 6)
        // A small buffer: the outage fills it, and the partitions pause while polling goes on.
        var configuration = f.workerConfiguration()
        configuration.maxBufferedBytes = 20_000
        let worker = Worker(configuration: configuration, logger: logger)
        let task = Task { try await worker.run() }
        defer { worker.requestStop() }
        try await f.waitUntil("the write was refused and retried") { worker.statistics.writeRetries >= 2 }
        try await f.waitUntil("the buffer filled and the partitions paused") { worker.health.pausedPartitions == f.partitions }
        let consumedWhilePaused = worker.statistics.consumed
        #expect(consumedWhilePaused < 600, "consumption stopped at the buffer limit (\(consumedWhilePaused) consumed)")
        #expect(worker.health.bufferedBytes <= 20_000 + 500 * 300, "bounded: the limit plus at most one batch")
        #expect(!worker.health.database.up && !worker.health.ready)
        #expect(worker.health.database.error?.contains("25006") == true, "\(worker.health.database)")
        #expect(try await f.rowCounts().rows == 0)
        #expect(try await f.committedOffsets().allSatisfy { $0.offset == nil }, "nothing committed while nothing is durable")

        try await admin.execute("ALTER DATABASE \(f.database.name) SET default_transaction_read_only = off")
        try await f.waitUntil("everything stored once the database accepts writes") {
            let rows = try await f.rowCounts().rows
            guard rows == 600 else { return false }
            return try await f.caughtUp()
        }
        #expect(try await f.rowCounts() == (600, 600))
        #expect(try await admin.query("SELECT count(*) FROM guardian_dead_letters").scalar == "0", "an outage is never dead-lettered")
        #expect(worker.health.database.up)
        #expect(worker.health.pausedPartitions == 0, "resumed once the buffer drained")
        worker.requestStop()
        try await task.value
        try await f.cleanUp(symbols: 6)
    }

    /// Issue 16, item 4: a change to the database that refuses every row for one reason (here a CHECK
    /// constraint added by DDL; a NOT NULL column or a detached default partition do the same) is an
    /// outage: the batch is retried, never dead-lettered, and stored once the change is undone.
    @Test func aBatchRefusedWhollyWithOneSQLStateIsAnOutageNotPoison() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let admin = try await PostgresConnection.connect(f.database.configuration)
        try await f.publish(count: 200, symbols: 4)
        let worker = Worker(configuration: f.workerConfiguration(), logger: logger)
        let task = Task { try await worker.run() }
        defer { worker.requestStop() }
        try await f.waitUntil("200 stored") { try await f.stored(200) }

        // Every row ingested from now on violates it (SQLSTATE 23514); the rows already stored do not (the
        // newest stored ingestion time, at the database's full precision, is the bound).
        let newest = try #require(try await admin.query("SELECT max(ingested_at)::text FROM guardian_events").scalar)
        try await admin.execute("ALTER TABLE guardian_events ADD CONSTRAINT guardian_test_refuse_new CHECK (ingested_at <= '\(newest)')")
        try await f.publish(count: 200, symbols: 4, seqOffset: 1000)
        try await f.waitUntil("the refused batch was retried") { worker.statistics.writeRetries >= 2 }
        #expect(try await admin.query("SELECT count(*) FROM guardian_dead_letters").scalar == "0", "nothing dead-lettered")
        #expect(try await f.rowCounts().rows == 200)
        #expect(worker.health.database.error?.contains("23514") == true, "\(worker.health.database)")

        try await admin.execute("ALTER TABLE guardian_events DROP CONSTRAINT guardian_test_refuse_new")
        try await f.waitUntil("everything stored once the change is undone") { try await f.stored(400) }
        #expect(try await f.rowCounts() == (400, 400))
        #expect(try await admin.query("SELECT count(*) FROM guardian_dead_letters").scalar == "0", "an outage is never dead-lettered")
        worker.requestStop()
        try await task.value
        try await f.cleanUp(symbols: 4)
    }

    /// Issue 7, item 5: a partition that never receives a message has an end offset of 0 and no
    /// committed offset, so comparing committed offsets with end offsets as sets could never succeed
    /// (about 7 % of runs of a 24-symbol, 6-partition test had such a partition).
    @Test func anEmptyPartitionIsCaughtUpWithNothingCommitted() async throws {
        let f = try await WorkerFixture.make(partitions: 6)
        try await f.publish(count: 300, symbols: 1)  // one symbol: one partition
        let worker = Worker(configuration: f.workerConfiguration(), logger: logger)
        try await f.run([worker], until: "caught up") { try await f.caughtUp() }
        let ends = try await f.endOffsets()
        let committed = try await f.committedOffsets()
        // What the group holds: the end of the one partition with data, nothing where there was nothing.
        let committedBy = Dictionary(uniqueKeysWithValues: committed.map { ($0.partition, $0.offset) })
        for end in ends {
            if (end.offset ?? 0) == 0 {
                #expect(committedBy[end.partition, default: nil] == nil, "partition \(end.partition) is empty: nothing committed")
            } else {
                #expect(committedBy[end.partition, default: nil] == end.offset, "partition \(end.partition): its end offset committed")
            }
        }
        #expect(try await f.rowCounts() == (300, 300))
        try await f.cleanUp(symbols: 1)
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GuardianKafka
import GuardianOperations
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianTestSupport
import GuardianWorker
import Logging
import Testing

/// Operating the fleet as an operator does, through `guardian lag`, `guardian offsets reset`,
/// `guardian replay` and `guardian cache rebuild` against the dev broker and real stores.
@Suite struct OperationsTests {
    /// Joins `group`, commits `total` messages' worth of offsets (partition by partition, in order), leaves.
    func commit(_ f: WorkerFixture, group: String, total: Int64) async throws -> [Int32: Int64] {
        let ends = try await f.endOffsets().sorted { $0.partition < $1.partition }
        let consumer = try KafkaConsumer(configuration: f.kafka, groupID: group)
        try await consumer.subscribe(topics: [f.topic])
        try await f.waitUntil("the committing member owns every partition", timeout: .seconds(60)) {
            _ = try await consumer.poll(maxMessages: 1, timeout: .milliseconds(100))
            return try await consumer.assignment().count == f.partitions
        }
        var left = total
        var offsets: [Int32: Int64] = [:]
        for e in ends {
            let n = min(left, e.offset ?? 0)
            left -= n
            offsets[e.partition] = n
        }
        try await consumer.commit(offsets.map { TopicPartitionOffset(topic: f.topic, partition: $0.key, offset: $0.value) })
        try await consumer.close()
        return offsets
    }

    func committed(_ f: WorkerFixture, group: String? = nil) async throws -> [Int32: Int64?] {
        Dictionary(uniqueKeysWithValues: try await f.committedOffsets(group: group).map { ($0.partition, $0.offset) })
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: '\(text)'")
    }

    /// `guardian lag … --format json` as an object; a failed run is reported with its stderr.
    func lagJSON(_ f: WorkerFixture, _ arguments: [String]) async throws -> [String: Any] {
        let r = try await f.guardian(["lag", "--format", "json"] + arguments)
        #expect(r.status == 0, "guardian lag \(arguments): \(r.stderr)")
        return try json(r.stdout)
    }

    @Test func lagIsSeenFromOutsideTheGroupWithTimeLagAndComesBackToZero() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        try await f.publish(count: 1000, symbols: 40)
        let committedNow = try await commit(f, group: f.group, total: 400)
        #expect(committedNow.values.reduce(0, +) == 400)

        let r = try await f.guardian(["lag", "--format", "json", "--samples", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try json(r.stdout)
        #expect(o["group"] as? String == f.group && o["topic"] as? String == f.topic)
        #expect((o["total_lag"] as? NSNumber)?.int64Value == 600, "\(r.stdout)")
        #expect(((o["max_time_lag_seconds"] as? NSNumber)?.doubleValue ?? 0) > 0, "\(r.stdout)")
        let partitions = try #require(o["partitions"] as? [[String: Any]])
        #expect(partitions.count == 4)
        let ends = Dictionary(uniqueKeysWithValues: try await f.endOffsets().map { ($0.partition, $0.offset ?? 0) })
        for p in partitions {
            let id = Int32((p["partition"] as? NSNumber)?.int32Value ?? -1)
            let c = (p["committed_offset"] as? NSNumber)?.int64Value
            #expect(c == committedNow[id], "partition \(id)")
            #expect((p["end_offset"] as? NSNumber)?.int64Value == ends[id])
            #expect((p["lag"] as? NSNumber)?.int64Value == (ends[id] ?? 0) - (c ?? 0))
            #expect(p["status"] is String)
        }

        let table = try await f.guardian(["lag", "--samples", "1"])
        #expect(table.stdout.contains("CURRENT-OFFSET") && table.stdout.contains("TIME-LAG") && table.stdout.contains("TOTAL lag 600"), "\(table.stdout)")

        let nobody = uniqueName("nobody")
        let none = try await f.guardian(["lag", "--group", nobody, "--samples", "1"])
        #expect(none.stdout.contains("has no committed offsets"), "\(none.stdout)")
        let noneJSON = try await lagJSON(f, ["--group", nobody, "--samples", "1"])
        #expect((noneJSON["partitions"] as? [[String: Any]])?.allSatisfy { $0["committed_offset"] is NSNull } == true)

        _ = try await commit(f, group: f.group, total: 1000)
        let after = try await lagJSON(f, ["--samples", "2", "--interval", "0.5"])
        #expect((after["total_lag"] as? NSNumber)?.int64Value == 0)
        #expect((after["max_time_lag_seconds"] as? NSNumber)?.doubleValue == 0)
        #expect(after["status"] as? String == "OK")
        try await f.database.drop()
    }

    /// The standalone exporter (`guardian lag --serve`) shows a group's lag with no worker running, and
    /// `--watch` prints one report per interval.
    @Test func theLagExporterServesLagWithEveryWorkerDown() async throws {
        let f = try await WorkerFixture.make(partitions: 3)
        try await f.publish(count: 300, symbols: 30)
        let committed = try await commit(f, group: f.group, total: 120)
        let (exporter, port) = try await f.startServing { ["lag", "--serve", "127.0.0.1:\($0)", "--watch", "1", "--window", "3"] }
        var text = ""
        // Window 3 × 1 s: offsets still with lag are STALL after 3 samples, STOP once no commit came for 3 s.
        try await f.waitUntil("the exporter says STOP") {
            guard let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!) else { return false }
            text = String(decoding: data, as: UTF8.self)
            return text.contains(#"guardian_consumer_group_status{group="\#(f.group)",topic="\#(f.topic)"} 4.0"#)
        }
        let ends = Dictionary(uniqueKeysWithValues: try await f.endOffsets().map { ($0.partition, $0.offset ?? 0) })
        for p in 0..<Int32(3) {
            let labels = #"{group="\#(f.group)",topic="\#(f.topic)",partition="\#(p)"}"#
            let expected = (ends[p] ?? 0) - (committed[p] ?? 0)
            #expect(text.contains("guardian_consumer_lag_messages\(labels) \(expected).0"), "partition \(p): \(text)")
            #expect(text.contains("guardian_consumer_partition_status\(labels) \(expected > 0 ? "4.0" : "0.0")"), "STOP where there is lag, OK where not")
            #expect(text.contains("guardian_consumer_lag_seconds\(labels)"))
        }
        exporter.signal(SIGTERM)
        let stopped = try await exporter.wait(timeout: .seconds(60))
        #expect(!stopped.timedOut && stopped.status == 0, "SIGTERM stops the exporter cleanly: \(stopped.stderr.suffix(2000))")

        let watch = try await f.guardian(["lag", "--watch", "1", "--count", "2", "--format", "json"])
        let lines = watch.stdout.split(separator: "\n")
        #expect(lines.count == 2, "\(watch.stdout)")
        #expect(try lines.allSatisfy { (try json(String($0))["total_lag"] as? NSNumber)?.int64Value == 180 })
        try await f.database.drop()
    }

    @Test func eachResetModeMovesExactlyWhatItSaysDryRunMovesNothingAndARunningGroupIsRefused() async throws {
        let f = try await WorkerFixture.make(partitions: 3)
        try await f.publish(count: 300, symbols: 30)
        let firstWave = Dictionary(uniqueKeysWithValues: try await f.endOffsets().map { ($0.partition, $0.offset ?? 0) })
        try await Task.sleep(for: .milliseconds(1500))
        let between = TimeArgument.iso(Int64(Date().timeIntervalSince1970 * 1000))
        try await Task.sleep(for: .milliseconds(1500))
        try await f.publish(count: 300, symbols: 30, seqOffset: 10)
        let ends = Dictionary(uniqueKeysWithValues: try await f.endOffsets().map { ($0.partition, $0.offset ?? 0) })
        let start = try await commit(f, group: f.group, total: 100)
        let db = try await PostgresConnection.connect(f.database.configuration)
        // A checkpoint ahead of where the reset goes: it must come down, or workers would skip back to it.
        try await db.execute("INSERT INTO guardian_checkpoints (group_id, topic, partition, next_offset) VALUES ('\(f.group)', '\(f.topic)', 0, \(ends[0]!))")

        let dry = try await f.guardian(["offsets", "reset", "--to-earliest", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("dry run"), "\(dry.stdout)\(dry.stderr)")
        #expect(try await committed(f) == start.mapValues { $0 })

        func reset(_ args: [String]) async throws -> [Int32: Int64?] {
            let r = try await f.guardian(["offsets", "reset"] + args + ["--execute"])
            #expect(r.status == 0, "\(args): \(r.stdout) \(r.stderr)")
            return try await committed(f)
        }
        #expect(try await reset(["--to-earliest"]) == [0: 0, 1: 0, 2: 0])
        #expect(try await db.query("SELECT next_offset FROM guardian_checkpoints WHERE group_id = $1 AND topic = $2 AND partition = 0",
                                   [f.group, f.topic]).scalar == "0")
        #expect(try await reset(["--shift-by", "25"]) == [0: 25, 1: 25, 2: 25])
        #expect(try await reset(["--to-offset", "0:7,2:11"]) == [0: 7, 1: 25, 2: 11])
        #expect(try await reset(["--to-latest", "--partitions", "1"]) == [0: 7, 1: ends[1]!, 2: 11])
        #expect(try await reset(["--to-datetime", between]) == firstWave.mapValues { $0 }, "the first message after the pause, found by binary search")
        let audit = try await db.query("SELECT count(*), count(*) FILTER (WHERE details->'moves' IS NOT NULL) FROM guardian_operations WHERE operation = 'offsets_reset'").rows[0]
        #expect(audit == ["5", "5"])

        // A running worker in the group: refused, and its offsets are left to it.
        let worker = Worker(configuration: f.workerConfiguration(), logger: Logger(label: "test"))
        let task = Task { try await worker.run() }
        try await f.waitUntil("the worker owns partitions", timeout: .seconds(60)) { !worker.ownedPartitions.isEmpty }
        let refused = try await f.guardian(["offsets", "reset", "--to-earliest", "--execute"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("running member"), "\(refused.stderr)")
        worker.requestStop()
        try await task.value
        #expect(try await db.query("SELECT count(*) FROM guardian_operations").scalar == "5", "a refused reset records nothing")
        try await f.cleanUp(symbols: 30)
    }

    @Test func replayAfterAnOutageBringsEveryRowBackOnceAndLeavesRedisAlone() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        try await f.publish(count: 600, symbols: 12)
        try await Task.sleep(for: .seconds(2))
        let waveTwoFrom = Int64(Date().timeIntervalSince1970 * 1000)
        try await f.publish(count: 600, symbols: 12, seqOffset: 50)
        let waveTwoTo = Int64(Date().timeIntervalSince1970 * 1000)
        try await Task.sleep(for: .seconds(2))
        try await f.publish(count: 600, symbols: 12, seqOffset: 100)
        let worker = Worker(configuration: f.workerConfiguration(), logger: Logger(label: "test"))
        try await f.run([worker], until: "all three waves stored and committed") {
            let rows = try await f.rowCounts().rows
            guard rows == 1800 else { return false }
            return try await f.caughtUp()
        }
        let redisBefore = try await f.redisState(symbols: 12)
        #expect(redisBefore.values.allSatisfy { $0["seq"] == "149" })

        // The outage: wave 2 never reached the database.
        let db = try await PostgresConnection.connect(f.database.configuration)
        try await db.execute("DELETE FROM guardian_events WHERE seq >= 50 AND seq < 100")
        #expect(try await f.rowCounts().rows == 1200)

        let r = try await f.guardian(["replay", "--from", TimeArgument.iso(waveTwoFrom), "--to", TimeArgument.iso(waveTwoTo),
                                      "--margin-seconds", "0", "--group", uniqueName("replay")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("replay: 600 events read, 600 rows written, 0 already present"), "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("binary search") && r.stderr.contains("ETA"), "\(r.stderr)")
        let counts = try await f.rowCounts()
        #expect(counts.rows == 1800 && counts.distinct == 1800, "every row back, once")
        #expect(try await f.redisState(symbols: 12) == redisBefore, "older events replayed after newer state: Redis does not move back")

        // The default margin (60 s) takes in all three waves: nothing is written twice.
        let wide = try await f.guardian(["replay", "--from", TimeArgument.iso(waveTwoFrom), "--to", TimeArgument.iso(waveTwoTo), "--group", uniqueName("replay")])
        #expect(wide.stdout.contains("replay: 1800 events read, 0 rows written, 1800 already present"), "\(wide.stdout) \(wide.stderr)")
        #expect(try await f.rowCounts().rows == 1800)
        #expect(try await db.query("SELECT count(*) FROM guardian_operations WHERE operation = 'replay'").scalar == "2")
        try await f.cleanUp(symbols: 12)
    }

    @Test func cacheRebuildAfterFlushallRestoresEverySymbolsState() async throws {
        let f = try await WorkerFixture.make(partitions: 3)
        let redis = try await PrivateRedis()
        var configuration = f.workerConfiguration()
        configuration.redis = RedisConfiguration(host: "127.0.0.1", port: redis.port)
        let highest = try await f.publish(count: 900, symbols: 9)
        let worker = Worker(configuration: configuration, logger: Logger(label: "test"))
        try await f.run([worker], until: "stored and committed") {
            let rows = try await f.rowCounts().rows
            guard rows == 900 else { return false }
            return try await f.caughtUp()
        }
        var fixture = f
        fixture = WorkerFixture(topic: f.topic, group: f.group, partitions: f.partitions, database: f.database, kafka: f.kafka,
                                redis: configuration.redis, symbolPrefix: f.symbolPrefix)
        let before = try await fixture.redisState(symbols: 9)
        #expect(before.count == 9 && before.allSatisfy { $0.value["seq"] == String(highest[$0.key] ?? -1) })

        let connection = try await RedisConnection.connect(configuration.redis)
        try await connection.command(["FLUSHALL"])
        #expect(try await fixture.redisState(symbols: 9).values.allSatisfy(\.isEmpty))

        let r = try await f.guardian(["cache", "rebuild"], environment: ["REDIS_PORT": String(redis.port), "REDIS_PASSWORD": ""])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("9 symbols read from the database, 9 written to Redis, 0 already current"), "\(r.stdout)")
        let rebuilt = try await fixture.redisState(symbols: 9)
        for (symbol, fields) in before {
            // The table keeps microseconds: a rebuilt ts is the event's ts truncated to the microsecond.
            let ts = Int64(fields["ts"] ?? "") ?? -1
            #expect(rebuilt[symbol]?["ts"] == String(ts / 1000 * 1000), "\(symbol)")
            #expect(rebuilt[symbol]?.filter { $0.key != "ts" } == fields.filter { $0.key != "ts" }, "every other field as the worker left it: \(symbol)")
        }
        let members = try await connection.command(["SMEMBERS", StateCache.symbolsKey]).array?.compactMap(\.string) ?? []
        #expect(Set(members) == Set((0..<9).map { f.symbol($0) }))
        let again = try await f.guardian(["cache", "rebuild", "--symbols", f.symbol(0)], environment: ["REDIS_PORT": String(redis.port), "REDIS_PASSWORD": ""])
        #expect(again.stdout.contains("1 symbols read from the database, 0 written to Redis, 1 already current"), "\(again.stdout)")
        try await f.database.drop()
    }

    @Test func scalingOneToThreeWorkersWhilePublishingGivesEachPartitionOneOwnerAndLosesNothing() async throws {
        let f = try await WorkerFixture.make(partitions: 6)
        let workers = (1...3).map { Worker(configuration: f.workerConfiguration(id: "w\($0)"), logger: Logger(label: "test")) }
        var tasks = [Task { try await workers[0].run() }]
        try await f.waitUntil("the first worker owns every partition", timeout: .seconds(60)) { workers[0].ownedPartitions.count == 6 }
        let publisher = Task {
            for wave in 0..<20 {
                try await f.publish(count: 150, symbols: 30, seqOffset: Int64(wave * 5))
                try await Task.sleep(for: .milliseconds(300))
            }
        }
        try await Task.sleep(for: .seconds(1))
        tasks.append(Task { try await workers[1].run() })
        tasks.append(Task { try await workers[2].run() })
        try await f.waitUntil("three workers share the partitions, one owner each", timeout: .seconds(90)) {
            let owned = workers.map { Set($0.ownedPartitions) }
            return owned.allSatisfy { !$0.isEmpty } && owned.map(\.count).reduce(0, +) == 6 && owned.reduce(Set()) { $0.union($1) }.count == 6
        }
        try await publisher.value
        try await f.waitUntil("every event stored and committed") {
            let rows = try await f.rowCounts().rows
            guard rows == 3000 else { return false }
            return try await f.caughtUp()
        }
        for w in workers { w.requestStop() }
        for t in tasks { try await t.value }
        let counts = try await f.rowCounts()
        #expect(counts.rows == 3000 && counts.distinct == 3000, "nothing lost, nothing duplicated")
        try await f.cleanUp(symbols: 30)
    }
}

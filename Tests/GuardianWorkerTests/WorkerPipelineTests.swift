import Foundation
import GuardianKafka
import GuardianStores
import GuardianTestSupport
import GuardianWorker
import Logging
import Testing

/// The worker against real servers: exact counts, latest state per symbol, commits = end offsets.
@Suite struct WorkerPipelineTests {
    let logger = Logger(label: "worker-test")

    @Test func persistsEveryEventOnceThenAbsorbsAFullRedelivery() async throws {
        let f = try await WorkerFixture.make(partitions: 6)
        let symbols = 24, count = 3000, invalid = 7
        let highest = try await f.publish(count: count, symbols: symbols, invalid: invalid)
        let ends = try await f.endOffsets()
        #expect(ends.reduce(0) { $0 + ($1.offset ?? 0) } == Int64(count + invalid))

        let worker = Worker(configuration: f.workerConfiguration(), logger: logger)
        try await f.run([worker], until: "all events persisted and committed") {
            let rows = try await f.rowCounts().rows
            guard rows == count else { return false }
            return try await f.caughtUp()
        }
        let counts = try await f.rowCounts()
        #expect(counts == (count, count))
        #expect(worker.statistics.rejected == invalid, "malformed messages are counted, not stored, and do not stall")
        let state = try await f.redisState(symbols: symbols)
        for (symbol, seq) in highest { #expect(state[symbol]?["seq"] == "\(seq)", "\(symbol)") }
        #expect(state.values.allSatisfy { $0["kind"] != nil && $0["event_id"] != nil })

        // Redelivery: the group's offsets go back to the beginning; a worker reads everything again.
        try await resetToBeginning(f)
        #expect(try await f.committedOffsets().allSatisfy { $0.offset == 0 })
        // The checkpoints say all of it is durable; read it again anyway, as a rewind with checkpoints off does.
        var rewind = f.workerConfiguration()
        rewind.skipDurableOnAssignment = false
        let again = Worker(configuration: rewind, logger: logger)
        try await f.run([again], until: "the redelivered events are all processed") {
            try await f.caughtUp()
        }
        #expect(try await f.rowCounts() == (count, count), "still exactly N rows")
        #expect(again.statistics.duplicates == count, "every redelivered event was a no-op")
        #expect(try await f.redisState(symbols: symbols) == state, "Redis unchanged by the replay")

        // With the default too, a rewind by an outside tool is honoured (issue 16, item 2): the committed
        // offset is not where the group last committed, so the checkpoints do not undo it.
        try await resetToBeginning(f)
        let third = Worker(configuration: f.workerConfiguration(), logger: logger)
        try await f.run([third], until: "the rewound group is caught up") { try await f.caughtUp() }
        #expect(third.statistics.consumed == count + invalid && third.statistics.skippedDurable == 0, "\(third.statistics)")
        #expect(third.statistics.duplicates == count, "every event read again, each a no-op")
        #expect(try await f.rowCounts() == (count, count))
        try await f.cleanUp(symbols: symbols)
    }

    /// Joins the group, commits offset 0 for every partition, leaves (the dev broker accepts commits
    /// only from members).
    func resetToBeginning(_ f: WorkerFixture) async throws {
        let consumer = try KafkaConsumer(configuration: f.kafka, groupID: f.group)
        try await consumer.subscribe(topics: [f.topic])
        try await f.waitUntil("the reset consumer gets all partitions", timeout: .seconds(60)) {
            _ = try await consumer.poll(maxMessages: 1, timeout: .milliseconds(100))
            return try await consumer.assignment().count == f.partitions
        }
        try await consumer.commit((0..<f.partitions).map { TopicPartitionOffset(topic: f.topic, partition: Int32($0), offset: 0) })
        try await consumer.close()
    }

    @Test func twoWorkersShareThePartitionsAndPersistEverythingOnce() async throws {
        let f = try await WorkerFixture.make(partitions: 6)
        let a = Worker(configuration: f.workerConfiguration(id: "a"), logger: logger)
        let b = Worker(configuration: f.workerConfiguration(id: "b"), logger: logger)
        let symbols = 32, count = 4000
        var published = false
        var sawSplit = false
        try await f.run([a, b], until: "both workers own partitions and every event is persisted", timeout: .seconds(120)) {
            let pa = Set(a.ownedPartitions), pb = Set(b.ownedPartitions)
            if !published {
                guard !pa.isEmpty, !pb.isEmpty, pa.isDisjoint(with: pb), pa.union(pb).count == f.partitions else { return false }
                sawSplit = true
                try await f.publish(count: count, symbols: symbols)
                published = true
            }
            let rows = try await f.rowCounts().rows
            guard rows == count else { return false }
            return try await f.caughtUp()
        }
        #expect(sawSplit, "every partition owned by exactly one of the two workers")
        #expect(try await f.rowCounts() == (count, count))
        #expect(a.statistics.consumed > 0 && b.statistics.consumed > 0, "both did work")
        #expect(a.statistics.consumed + b.statistics.consumed == count)
        try await f.cleanUp(symbols: symbols)
    }
}

import Foundation
import GuardianDevBroker
import GuardianKafka
import GuardianPostgres
import GuardianStores
import GuardianTestSupport
import GuardianWorker
import Logging
import Testing

/// `guardian_checkpoints` may only ever save re-reading what a group itself made durable; it must never
/// make a group skip events it did not store (issue 16, what was seen, items 1 and 2).
@Suite struct CheckpointTests {
    let logger = Logger(label: "checkpoints")

    /// Item 1: a canary group started at the end of the log stores new events into the same database;
    /// the first group, resuming from its own committed offsets, must still store everything after them.
    @Test func aSecondGroupStartedAtTheEndNeverMakesTheFirstSkip() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        try await f.publish(count: 1000, symbols: 8)
        let g1 = Worker(configuration: f.workerConfiguration(), logger: logger)
        try await f.run([g1], until: "g1 stores the first 1,000") { try await f.stored(1000) }

        try await f.publish(count: 1000, symbols: 8, seqOffset: 1000)
        let canary = uniqueName("canary")
        let reset = try await f.guardian(["offsets", "reset", "--group", canary, "--to-latest", "--execute"])
        #expect(reset.status == 0, "\(reset.stderr)")
        try await f.publish(count: 500, symbols: 8, seqOffset: 2000)
        let g2 = Worker(configuration: f.workerConfiguration(group: canary, id: "canary"), logger: logger)
        try await f.run([g2], until: "the canary stores the 500 it saw") {
            guard try await f.rowCounts().rows == 1500 else { return false }
            return try await f.caughtUp(group: canary)
        }

        let resumed = Worker(configuration: f.workerConfiguration(id: "g1-again"), logger: logger)
        try await f.run([resumed], until: "g1 stores everything after its committed offsets") { try await f.stored(2500) }
        #expect(try await f.rowCounts() == (2500, 2500), "none of the 1,000 the canary never saw was skipped")
        #expect(resumed.statistics.skippedDurable == 0)
        try await f.cleanUp(symbols: 8)
    }

    /// Item 2: rows deleted by mistake, the group rewound to the start with an outside tool: the worker
    /// honours the rewind (the committed offset is not the one the group itself last committed) and
    /// stores everything again.
    @Test func anOutsideRewindIsHonouredNotUndoneByTheCheckpoint() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        try await f.publish(count: 1000, symbols: 8)
        let first = Worker(configuration: f.workerConfiguration(), logger: logger)
        try await f.run([first], until: "1,000 stored") { try await f.stored(1000) }

        let db = try await PostgresConnection.connect(f.database.configuration)
        try await db.execute("DELETE FROM guardian_events")
        try await f.commitAsOutsideTool(group: f.group, Dictionary(uniqueKeysWithValues: (0..<Int32(4)).map { ($0, Int64(0)) }))

        let again = Worker(configuration: f.workerConfiguration(id: "after-rewind"), logger: logger)
        try await f.run([again], until: "every event stored again") { try await f.stored(1000) }
        #expect(try await f.rowCounts() == (1000, 1000))
        #expect(again.statistics.skippedDurable == 0, "nothing skipped to the checkpoint")
        try await f.cleanUp(symbols: 8)
    }

    /// Issue 16: a checkpoint describes one log. The group stored 1,000 events from cluster A; it fails over
    /// to cluster B (disaster recovery: the same topic, other records at the same offsets, no committed
    /// offsets for the group). The checkpoint's offsets mean nothing there: the record it ends at is not
    /// B's, so B is read from its oldest offset — nothing of B's 1,500 events is skipped.
    @Test func aCheckpointFromAnotherClusterIsNotHonoured() async throws {
        let clusterA = try DevBroker(brokers: 3)
        let clusterB = try DevBroker(brokers: 3)
        let a = try await WorkerFixture.make(partitions: 4, broker: clusterA)
        try clusterB.createTopic(a.topic, partitions: 4, replicationFactor: 3)
        try clusterB.createTopic("\(a.topic).dlq", partitions: 1, replicationFactor: 3)
        let b = WorkerFixture(topic: a.topic, group: a.group, partitions: 4, database: a.database,
                              kafka: KafkaConfiguration(bootstrapServers: clusterB.bootstrapServers, properties: sessionProperties),
                              redis: a.redis, symbolPrefix: a.symbolPrefix)
        try await a.publish(count: 1000, symbols: 8)
        let onA = Worker(configuration: a.workerConfiguration(id: "on-a"), logger: logger)
        try await a.run([onA], until: "1,000 stored from A") { try await a.stored(1000) }

        try await b.publish(count: 1500, symbols: 8, seqOffset: 5000)
        let onB = Worker(configuration: b.workerConfiguration(id: "on-b"), logger: logger)
        try await b.run([onB], until: "B's 1,500 stored as well") { try await b.stored(2500) }
        #expect(try await b.rowCounts() == (2500, 2500), "every event of both clusters stored once")
        #expect(onB.statistics.consumed == 1500, "all of B read, from its oldest offsets")
        #expect(onB.statistics.checkpointRestores == 0, "no partition resumed at A's checkpoint")
        try await a.cleanUp(symbols: 8)
    }

    /// Issue 16, item 5: `offsets reset` lowered a checkpoint; a worker assigned before the reset (thrown
    /// out of the group, its write landing late) must not raise it again — its GREATEST upsert did, and
    /// the group then skipped the rewound events. A worker assigned after the reset moves it as usual.
    @Test func aStaleWriterCannotRaiseALoweredCheckpoint() async throws {
        let database = try await TemporaryDatabase.create()
        let db = try await PostgresConnection.connect(database.configuration)
        _ = try await Migrator(connection: db, schemas: schemasURL, settings: StorageSettings(), logger: logger).migrate()
        let writer = EventTableWriter(connection: db), checkpoints = Checkpoints(connection: db)
        func checkpoint(_ partition: Int32, _ next: Int64, epoch: Int64?, record: Int64) -> EventTableWriter.Checkpoint {
            .init(group: "g", topic: "t", partition: partition, nextOffset: next, committedOffset: nil, epoch: epoch, lastRecord: record)
        }
        // Assigned before the reset: no row yet (epoch 0); it wrote up to 500 on partition 0.
        _ = try await writer.write(payload: [], count: 0, checkpoints: [checkpoint(0, 500, epoch: nil, record: 1)])
        #expect(try await checkpoints.lower(group: "g", topic: "t", to: [0: 0, 1: 0]) == [0])
        let lowered = try await checkpoints.read(group: "g", topic: "t")
        #expect(lowered[0] == .init(nextOffset: 0, committedOffset: 0, epoch: 1, lastRecord: nil))
        #expect(lowered[1] == .init(nextOffset: 0, committedOffset: 0, epoch: 1, lastRecord: nil),
                "a partition without a checkpoint gets one at its new offset (a stale insert cannot create it)")

        // The stale worker's late write, with the epoch it read before the reset.
        _ = try await writer.write(payload: [], count: 0, checkpoints: [checkpoint(0, 1000, epoch: nil, record: 2),
                                                                        checkpoint(1, 800, epoch: 0, record: 2)])
        #expect(try await checkpoints.read(group: "g", topic: "t") == lowered, "the reset stands")

        // A worker assigned after the reset read epoch 1: its writes move the checkpoint.
        _ = try await writer.write(payload: [], count: 0, checkpoints: [checkpoint(0, 300, epoch: 1, record: 3)])
        #expect(try await checkpoints.read(group: "g", topic: "t")[0] == .init(nextOffset: 300, committedOffset: 0, epoch: 1, lastRecord: 3))
        try await database.drop()
    }
}

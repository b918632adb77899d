import Foundation
import GuardianKafka
import GuardianPostgres
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
}

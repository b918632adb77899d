import Foundation
import GuardianPostgres
import GuardianTestSupport
import GuardianWorker
import Logging
import Testing

/// A worker process killed between its database commit and its offset commit loses nothing and,
/// after a restart, duplicates nothing.
@Suite struct WorkerCrashTests {
    static var guardianBinary: String {
        if let bin = ProcessInfo.processInfo.environment["GUARDIAN_BIN"], !bin.isEmpty { return bin }
        return schemasURL.deletingLastPathComponent().appendingPathComponent(".build/debug/guardian").path
    }

    @Test func crashBetweenDatabaseCommitAndOffsetCommitLosesAndDuplicatesNothing() async throws {
        let f = try await WorkerFixture.make(partitions: 4)
        let symbols = 16, count = 2000
        try await f.publish(count: count, symbols: symbols)

        // A real `guardian worker` process, told to SIGKILL itself right after its first database commit.
        let process = try f.startWorker(["--metrics-port", "0", "--batch-max-events", "300", "--test-crash-after-db-commits", "1"])
        let r = try await process.wait(timeout: .seconds(120))
        #expect(!r.timedOut && r.status == 128 + SIGKILL, "the worker died by its own SIGKILL: \(r.stderr.suffix(2000))")

        let afterCrash = try await f.rowCounts().rows
        #expect(afterCrash > 0 && afterCrash < count, "one batch reached the database before the crash (\(afterCrash) rows)")
        #expect(try await f.committedOffsets().allSatisfy { $0.offset == nil }, "and no offset was committed for it")

        let checkpointed = try await PostgresConnection.connect(f.database.configuration)
            .query("SELECT count(*) FROM guardian_checkpoints WHERE topic = $1", [f.topic]).scalar
        // Restart: everything else persisted once.
        let worker = Worker(configuration: f.workerConfiguration(), logger: Logger(label: "restart"))
        try await f.run([worker], until: "the restarted worker catches up") {
            try await f.caughtUp()
        }
        #expect(try await f.rowCounts() == (count, count))
        // No offset was ever committed, but the crashed batch's checkpoints were written with its rows:
        // its partitions resume there, so nothing is read twice and nothing is skipped.
        #expect(worker.statistics.checkpointRestores == Int(checkpointed ?? "") && worker.statistics.checkpointRestores > 0,
                "the partitions of the crashed batch resumed from guardian_checkpoints")
        #expect(worker.statistics.duplicates == 0, "nothing was read twice")
        #expect(worker.statistics.consumed == count - afterCrash, "exactly the rest was read")
        try await f.cleanUp(symbols: symbols)
    }
}

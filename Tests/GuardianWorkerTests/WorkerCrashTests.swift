import Foundation
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.guardianBinary)
        process.arguments = ["worker", "--metrics-port", "0", "--batch-max-events", "300"]
            + sessionProperties.flatMap { ["--kafka", "\($0.key)=\($0.value)"] }
        var env = ProcessInfo.processInfo.environment
        env["KAFKA_BOOTSTRAP_SERVERS"] = f.kafka.bootstrapServers
        env["GUARDIAN_TOPIC"] = f.topic
        env["GUARDIAN_GROUP"] = f.group
        env["TIMESCALEDB_URI"] = f.database.uri
        env["REDIS_HOST"] = f.redis.host
        env["REDIS_PORT"] = String(f.redis.port)
        env["GUARDIAN_TEST_CRASH_AFTER_DB_COMMITS"] = "1"
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == 9, "the worker died by SIGKILL")

        let afterCrash = try await f.rowCounts().rows
        #expect(afterCrash > 0 && afterCrash < count, "one batch reached the database before the crash (\(afterCrash) rows)")
        #expect(try await f.committedOffsets().allSatisfy { $0.offset == nil }, "and no offset was committed for it")

        // Restart: the batch is redelivered, absorbed, and everything else persisted once.
        let worker = Worker(configuration: f.workerConfiguration(), logger: Logger(label: "restart"))
        let ends = try await f.endOffsets()
        try await f.run([worker], until: "the restarted worker catches up") {
            Set(try await f.committedOffsets()) == Set(ends)
        }
        #expect(try await f.rowCounts() == (count, count))
        #expect(worker.statistics.duplicates == afterCrash, "exactly the crashed batch came again")
        try await f.cleanUp(symbols: symbols)
    }
}

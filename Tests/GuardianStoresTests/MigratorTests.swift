import Foundation
import GuardianPostgres
import GuardianStores
import GuardianTestSupport
import Logging
import Testing

let schemasURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas")

@Suite struct MigratorTests {
    @Test func migrationsRunTwiceAreANoOp() async throws {
        let tmp = try await TemporaryDatabase.create()
        let db = try await PostgresConnection.connect(tmp.configuration)
        let migrator = Migrator(connection: db, schemas: schemasURL, settings: StorageSettings(), logger: Logger(label: "test"))
        let first = try await migrator.migrate()
        #expect(first.applied.count >= 3)
        #expect(first.alreadyApplied.isEmpty)
        let tables = try await db.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").scalar
        let second = try await migrator.migrate()
        #expect(second.applied.isEmpty)
        #expect(second.alreadyApplied == first.applied)
        #expect(second.mode == first.mode)
        #expect(try await db.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").scalar == tables)
        #expect(try await db.query("SELECT count(*) FROM guardian_schema_migrations").scalar == "\(first.applied.count)")
        try await tmp.drop()
    }

    @Test func editedMigrationIsRefused() async throws {
        let tmp = try await TemporaryDatabase.create()
        let db = try await PostgresConnection.connect(tmp.configuration)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("schemas"))
        try FileManager.default.copyItem(at: schemasURL, to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        let migrator = Migrator(connection: db, schemas: copy, settings: StorageSettings(), logger: Logger(label: "test"))
        _ = try await migrator.migrate()
        let file = copy.appendingPathComponent("migrations/0001_migrations_and_settings.sql")
        try (try String(contentsOf: file, encoding: .utf8) + "\n-- edited\n").write(to: file, atomically: true, encoding: .utf8)
        let error = await #expect(throws: StoreError.self) { _ = try await migrator.migrate() }
        #expect(error?.message.contains("has changed") == true)
        try await tmp.drop()
    }

    @Test func retentionUnderADayIsRefused() async throws {
        let settings = StorageSettings(retention: .seconds(3600))
        #expect(throws: StoreError.self) { try settings.validate() }
    }

    /// Without TimescaleDB: partitions exist across the retention window and ahead of now; old ones
    /// are dropped past retention; rows outside every partition land in the default partition.
    @Test(.enabled(if: !StackEnvironment.shared.isTimescaleDB, "TimescaleDB mode: chunks are TimescaleDB's job; this tests the plain-PostgreSQL fallback"))
    func plainPostgresFallbackCreatesAndDropsPartitions() async throws {
        let tmp = try await TemporaryDatabase.create()
        let db = try await PostgresConnection.connect(tmp.configuration)
        let settings = StorageSettings(chunkInterval: .seconds(6 * 3600), retention: .seconds(48 * 3600),
                                       compressAfter: .seconds(3600), partitionsAhead: .seconds(12 * 3600))
        let report = try await Migrator(connection: db, schemas: schemasURL, settings: settings, logger: Logger(label: "test")).migrate()
        #expect(report.mode == .postgresql)
        // 48 h back + 12 h ahead in 6 h partitions: 10 or 11 depending on alignment.
        let count = Int(try await db.query("SELECT count(*) FROM guardian_partitions").scalar ?? "") ?? 0
        #expect((10...11).contains(count))
        let attached = Int(try await db.query("""
            SELECT count(*) FROM pg_inherits WHERE inhparent = 'guardian_events'::regclass
            """).scalar ?? "") ?? 0
        #expect(attached == count + 1, "the partitions plus the default one")

        // Pretend time moved on: a partition 3 days old is past retention and is dropped.
        let made = Int(try await db.execute(
            "SELECT guardian_ensure_partitions(now() - interval '72 hours', now() - interval '66 hours', interval '6 hours')").scalar ?? "") ?? 0
        #expect((1...2).contains(made))
        #expect(Int(try await db.query("SELECT count(*) FROM guardian_partitions").scalar ?? "") == count + made)
        let maintainer = PartitionMaintainer(connection: db, settings: settings)
        let round = try await maintainer.runOnce()
        #expect(round?.dropped == made)
        #expect(round?.created == 0)
        #expect(Int(try await db.query("SELECT count(*) FROM guardian_partitions").scalar ?? "") == count)

        // A row far in the future goes to the default partition instead of failing.
        try await db.execute("""
            INSERT INTO guardian_events (ts, symbol, seq, event_id, kind, kafka_partition, kafka_offset)
            VALUES (now() + interval '30 days', 'X', 1, gen_random_uuid(), 'heartbeat', 0, 0)
            """)
        #expect(try await db.query("SELECT count(*) FROM guardian_events_default").scalar == "1")
        try await tmp.drop()
    }
}

import Foundation
import GuardianEvents
import GuardianPostgres
import GuardianStores
import GuardianTestSupport
import Logging
import Testing

/// What only TimescaleDB does: the compression and retention policies, and idempotent writes into
/// compressed chunks (timescale/timescaledb#7672 made a replay there drop rows before 2.18.1).
@Suite(.enabled(if: StackEnvironment.shared.isTimescaleDB,
                "needs the stack in TimescaleDB mode (sh ../shared/timescaledb/install.sh, then make test)"))
struct TimescaleDBTests {
    func migrated(_ settings: StorageSettings = StorageSettings()) async throws -> (TemporaryDatabase, PostgresConnection) {
        let tmp = try await TemporaryDatabase.create()
        let db = try await PostgresConnection.connect(tmp.configuration)
        let report = try await Migrator(connection: db, schemas: schemasURL, settings: settings, logger: Logger(label: "test")).migrate()
        #expect(report.mode == .timescaledb)
        return (tmp, db)
    }

    @Test func compressionAndRetentionPoliciesArePresent() async throws {
        let (tmp, db) = try await migrated()
        let jobs = try await db.query("""
            SELECT proc_name, config->>'compress_after', config->>'drop_after' FROM timescaledb_information.jobs
            WHERE hypertable_name = 'guardian_events' ORDER BY proc_name
            """).rows
        #expect(jobs.map { $0[0] ?? "" } == ["policy_compression", "policy_retention"], "\(jobs)")
        #expect(jobs.first { $0[0] == "policy_compression" }?[1] == "24:00:00", "\(jobs)")
        #expect(jobs.first { $0[0] == "policy_retention" }?[2] == "168:00:00", "\(jobs)")
        let compressed = try await db.query("""
            SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'guardian_events'
            """).scalar
        #expect(compressed == "t")
        try await tmp.drop()
    }

    @Test func retentionUnderADayIsRefusedAndThePolicyKept() async throws {
        let (tmp, db) = try await migrated()
        let short = Migrator(connection: db, schemas: schemasURL, settings: StorageSettings(retention: .seconds(3600)), logger: Logger(label: "test"))
        await #expect(throws: StoreError.self) { _ = try await short.migrate() }
        // Even past the settings check, the policies refuse it in the database.
        try await db.execute("SET guardian.retention = '1 hour'; SET guardian.compress_after = '1 day'; SET guardian.chunk_interval = '1 hour'; SET guardian.partitions_ahead = '1 day'")
        let policies = try String(contentsOf: schemasURL.appendingPathComponent("policies.sql"), encoding: .utf8)
        let refused = await #expect(throws: PostgresError.self) { try await db.execute(policies) }
        // The policy script's own RAISE EXCEPTION (SQLSTATE P0001), not any other failure of the script.
        #expect(refused?.sqlState == "P0001", "\(String(describing: refused))")
        #expect(refused?.message.contains("under the 24 hour minimum") == true, "\(String(describing: refused))")
        let dropAfter = try await db.query("""
            SELECT config->>'drop_after' FROM timescaledb_information.jobs
            WHERE hypertable_name = 'guardian_events' AND proc_name = 'policy_retention'
            """).scalar
        #expect(dropAfter == "168:00:00", "the 7-day policy is kept")
        try await tmp.drop()
    }

    @Test func aReplayIntoCompressedChunksStoresEveryNewEventOnce() async throws {
        let (tmp, db) = try await migrated()
        // Three days old: past the compression age.
        let old = Int64(Date().timeIntervalSince1970 * 1e9) - 3 * 86_400 * 1_000_000_000
        func events(_ count: Int, from: Int) -> [StoredEvent] {
            (from..<(from + count)).map { i in
                StoredEvent(event: GuardianEvent(eventID: .random(), symbol: "S\(i % 8)", seq: Int64(i), ts: old + Int64(i) * 1_000_000,
                                                 kind: .orderCheck, decision: .allow, reason: "r", qty: 1, price: 2),
                            partition: 0, offset: Int64(i))
            }
        }
        let first = events(2000, from: 0)
        let writer = EventTableWriter(connection: db)
        #expect(try await writer.write(first, ingestedAtNanos: old).inserted == 2000)
        let chunks = try await db.query("SELECT count(compress_chunk(c)) FROM show_chunks('guardian_events', older_than => interval '1 day') c").scalar
        #expect(Int(chunks ?? "") ?? 0 > 0, "the old chunks are compressed")
        #expect(try await db.query("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'guardian_events' AND is_compressed").scalar != "0")

        // A replay: every other stored event again, interleaved with new events in the same time range.
        let fresh = events(1000, from: 5000).map { e -> StoredEvent in
            var e = e
            e.event.ts = old + Int64(e.offset - 5000) * 2_000_000 + 500_000  // between the old ones
            return e
        }
        var replay: [StoredEvent] = []
        for (i, e) in first.enumerated() where i % 2 == 0 {
            replay.append(e)
            if i / 2 < fresh.count { replay.append(fresh[i / 2]) }
        }
        let result = try await writer.write(replay, ingestedAtNanos: old)
        #expect(result.inserted == fresh.count, "every new event stored; the duplicates, and only they, skipped")
        #expect(result.staged - result.inserted == 1000)
        let counts = try await db.query("SELECT count(*), count(DISTINCT event_id) FROM guardian_events").rows[0]
        #expect(counts == ["3000", "3000"])
        try await tmp.drop()
    }
}

@Suite struct TimescaleVersionTests {
    @Test func versionsBefore2181AreRefusedNamingTheBug() {
        for old in ["2.17.2", "2.18.0", "1.7.5", "2.9"] {
            #expect(throws: StoreError.self, "\(old)") { try TimescaleVersion.check(old) }
        }
        do { try TimescaleVersion.check("2.17.2") } catch { #expect(error.message.contains("#7672")) }
        for ok in ["2.18.1", "2.19.3", "2.28.3", "3.0.0", "2.18.1-dev"] {
            #expect(throws: Never.self, "\(ok)") { try TimescaleVersion.check(ok) }
        }
    }
}

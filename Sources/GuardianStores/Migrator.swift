import Foundation
import GuardianPostgres
import Logging

/// Where events are stored: a TimescaleDB hypertable, or a range-partitioned PostgreSQL table.
public enum StorageMode: String, Sendable {
    case timescaledb
    case postgresql
}

/// What `Migrator.migrate` did.
public struct MigrationReport: Sendable {
    public var mode: StorageMode
    /// Migrations applied by this run, e.g. `0002_guardian_events`.
    public var applied: [String]
    /// Migrations that were already applied before.
    public var alreadyApplied: [String]
}

/// Applies `schemas/migrations/NNNN_name.sql` in order, each once, in its own transaction, recorded in
/// `guardian_schema_migrations`; then `schemas/policies.sql` (retention, compression, partitions) with
/// the current settings. Safe to run concurrently (an advisory lock serialises runs) and repeatedly.
public struct Migrator: Sendable {
    public let connection: PostgresConnection
    public let schemas: URL
    public let settings: StorageSettings
    public let logger: Logger

    public init(connection: PostgresConnection, schemas: URL, settings: StorageSettings, logger: Logger) {
        self.connection = connection
        self.schemas = schemas
        self.settings = settings
        self.logger = logger
    }

    struct MigrationFile {
        let version: Int
        let name: String
        let sql: String
        var checksum: String { Self.fnv1a(sql) }

        static func fnv1a(_ s: String) -> String {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            return String(h, radix: 16)
        }
    }

    func migrationFiles() throws(StoreError) -> [MigrationFile] {
        let dir = schemas.appendingPathComponent("migrations")
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
            throw StoreError(.schemaFiles, "cannot list \(dir.path): \(error)")
        }
        var files: [MigrationFile] = []
        for file in names.sorted() where file.hasSuffix(".sql") {
            let stem = String(file.dropLast(4))
            guard let version = Int(stem.prefix { $0.isNumber }), version > 0 else {
                throw StoreError(.schemaFiles, "migration \(file) must start with a version number, like 0004_name.sql")
            }
            guard let sql = try? String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8) else {
                throw StoreError(.schemaFiles, "cannot read \(dir.appendingPathComponent(file).path)")
            }
            if let previous = files.last, previous.version == version {
                throw StoreError(.schemaFiles, "migrations \(previous.name) and \(stem) share version \(version)")
            }
            files.append(MigrationFile(version: version, name: stem, sql: sql))
        }
        guard !files.isEmpty else { throw StoreError(.schemaFiles, "no migrations in \(dir.path)") }
        return files
    }

    /// Brings the schema up to date and (re)applies the storage policies.
    public func migrate() async throws -> MigrationReport {
        try settings.validate()
        let files = try migrationFiles()
        let policiesURL = schemas.appendingPathComponent("policies.sql")
        guard let policies = try? String(contentsOf: policiesURL, encoding: .utf8) else {
            throw StoreError(.schemaFiles, "cannot read \(policiesURL.path)")
        }
        let settingsSQL = settings.sqlSettings
        let report = try await connection.withSession { session in
            if let version = try session.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").scalar {
                try TimescaleVersion.check(version)
            }
            try session.execute("SELECT pg_advisory_lock(hashtext('guardian_migrate'))")
            defer { _ = try? session.execute("SELECT pg_advisory_unlock(hashtext('guardian_migrate'))") }
            try session.execute("""
                CREATE TABLE IF NOT EXISTS guardian_schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            var done: [Int: (name: String, checksum: String)] = [:]
            for row in try session.execute("SELECT version, name, checksum FROM guardian_schema_migrations").rows {
                if let v = Int(row[0] ?? "") { done[v] = (row[1] ?? "", row[2] ?? "") }
            }
            var applied: [String] = []
            var already: [String] = []
            for file in files {
                if let previous = done[file.version] {
                    if previous.checksum != file.checksum {
                        throw StoreError(.migration, """
                            migration \(file.name) has changed since it was applied (checksum \(previous.checksum) → \(file.checksum)); \
                            add a new migration instead of editing an applied one
                            """)
                    }
                    already.append(file.name)
                    continue
                }
                try session.execute("BEGIN")
                do {
                    try session.execute(settingsSQL)
                    try session.execute(file.sql)
                    try session.query("INSERT INTO guardian_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                                      [String(file.version), file.name, file.checksum])
                    try session.execute("COMMIT")
                } catch {
                    _ = try? session.execute("ROLLBACK")
                    throw StoreError(.migration, "migration \(file.name) failed and was rolled back: \(error)")
                }
                applied.append(file.name)
            }
            try session.execute("BEGIN")
            do {
                try session.execute(settingsSQL)
                try session.execute(policies)
                try session.execute("COMMIT")
            } catch {
                _ = try? session.execute("ROLLBACK")
                throw StoreError(.migration, "applying schemas/policies.sql failed: \(error)")
            }
            let mode = try session.execute("SELECT value FROM guardian_settings WHERE key = 'storage_mode'").scalar
            return MigrationReport(mode: StorageMode(rawValue: mode ?? "") ?? .postgresql, applied: applied, alreadyApplied: already)
        }
        logger.info("schema up to date", metadata: [
            "mode": "\(report.mode.rawValue)", "applied": "\(report.applied.joined(separator: ","))",
            "already_applied": "\(report.alreadyApplied.count)",
        ])
        return report
    }

    /// Applies `schemas/roles.sql`: the `guardian_writer` and `guardian_reader` roles and their grants
    /// (idempotent; run after `migrate`, as the owner of the schema).
    public func createRoles() async throws {
        let url = schemas.appendingPathComponent("roles.sql")
        guard let sql = try? String(contentsOf: url, encoding: .utf8) else { throw StoreError(.schemaFiles, "cannot read \(url.path)") }
        try await connection.withSession { session in
            // Roles are cluster-wide: one creator at a time.
            try session.execute("BEGIN")
            do {
                try session.execute("SELECT pg_advisory_xact_lock(hashtext('guardian_roles'))")
                try session.execute(sql)
                try session.execute("COMMIT")
            } catch {
                _ = try? session.execute("ROLLBACK")
                throw StoreError(.migration, "applying schemas/roles.sql failed (it needs the right to create roles): \(error)")
            }
        }
        logger.info("roles guardian_writer and guardian_reader granted")
    }
}

import ArgumentParser
import GuardianPostgres
import GuardianStores
import GuardianSupport

/// `guardian migrate`: brings the database schema up to date (idempotent) and applies the storage policies.
struct MigrateCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or update the guardian_events schema (hypertable with TimescaleDB, else partitioned table).")

    @OptionGroup var store: StoreOptions
    @OptionGroup var log: LogOptions

    @Option(help: "Folder with migrations/ and policies.sql (env GUARDIAN_SCHEMAS_DIR; default: found near the binary).")
    var schemasDir: String? = CommandEnvironment.string(Settings.schemasDir)

    @Flag(help: "Also create the least-privilege roles guardian_writer (workers) and guardian_reader (schemas/roles.sql).")
    var createRoles = false

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.migrate")
        let schemas = try SchemaDirectory.locate(explicit: schemasDir)
        let db = try await PostgresConnection.connect(store.postgres)
        let migrator = Migrator(connection: db, schemas: schemas, settings: try store.storage(), logger: logger)
        let report = try await migrator.migrate()
        if createRoles { try await migrator.createRoles() }
        print("migrate: \(store.postgres.redactedURI): mode \(report.mode.rawValue); applied \(report.applied.isEmpty ? "none" : report.applied.joined(separator: ", ")); \(report.alreadyApplied.count) already applied\(createRoles ? "; roles guardian_writer and guardian_reader granted" : "")")
    }
}

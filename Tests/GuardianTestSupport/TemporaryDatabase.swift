import Foundation
import GuardianPostgres

/// A database of its own for one test, created on the stack's PostgreSQL and dropped afterwards,
/// so tests that migrate, drop partitions or count rows never see each other.
public struct TemporaryDatabase: Sendable {
    public let name: String
    public let uri: String
    let adminURI: String

    /// Creates `guardian_test_<random>` next to the stack's database.
    public static func create() async throws -> TemporaryDatabase {
        let base = try StackEnvironment.shared.postgresURI
        let name = "guardian_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let admin = try await PostgresConnection.connect(PostgresConfiguration(uri: base))
        try await admin.execute("CREATE DATABASE \(name)")
        let prefix = base.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        // Carry the timescaledb extension over when the stack runs it.
        let db = TemporaryDatabase(name: name, uri: prefix + "/" + name, adminURI: base)
        if try await admin.query("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").scalar != "0" {
            let conn = try await PostgresConnection.connect(PostgresConfiguration(uri: db.uri))
            try await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        }
        return db
    }

    public var configuration: PostgresConfiguration { PostgresConfiguration(uri: uri) }

    /// Drops the database, closing any connections still open to it.
    public func drop() async throws {
        let admin = try await PostgresConnection.connect(PostgresConfiguration(uri: adminURI))
        try await admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

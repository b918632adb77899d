import ArgumentParser
import Foundation
import GuardianOperations
import GuardianPostgres

/// `guardian cache rebuild`: the latest stored state of each symbol into Redis.
struct CacheCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Maintain the Redis state cache.",
        subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write each symbol's latest stored row from the database into Redis (newer states in Redis stay) and restore guardian:symbols.")

        @OptionGroup var store: StoreOptions
        @Option(help: "Only these symbols (comma-separated).") var symbols: String?

        func run() async throws {
            let list = symbols.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let started = Date()
            let redis = try store.redis  // read once (the password may come from a file)
            let r = try await CacheRebuilder(postgres: store.postgres, redis: redis).rebuild(symbols: list)
            let db = try await PostgresConnection.connect(store.postgres)
            try await OperationsAudit(connection: db).record(
                actor: OperationsAudit.actor(environment: CommandEnvironment.values),
                operation: "cache_rebuild", arguments: CommandLine.arguments.dropFirst().joined(separator: " "), outcome: "completed",
                details: ["symbols": r.symbols, "updated": r.updated, "already_current": r.current, "redis": redis.address])
            print(String(format: "cache rebuild: %d symbols read from the database, %d written to Redis, %d already current (%.1f s)",
                         r.symbols, r.updated, r.current, Date().timeIntervalSince(started)))
        }
    }
}

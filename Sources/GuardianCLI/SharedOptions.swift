#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ArgumentParser
import GuardianKafka
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianSupport

/// Kafka connection options shared by the subcommands. Unset flags fall back to the environment.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092).")
    var kafkaBootstrapServers: String?

    @Option(name: .customLong("kafka"), help: "librdkafka property key=value, passed through; repeatable.")
    var kafkaProperties: [String] = []

    @Option(help: "Events topic (env GUARDIAN_TOPIC, default guardian.events).")
    var topic: String?

    @Option(help: "A librdkafka properties file, key=value lines (env GUARDIAN_KAFKA_PROPERTIES_FILE): the place for SASL/TLS secrets. KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_LOCATION (and others, see README) override it; --kafka overrides both.")
    var kafkaPropertiesFile: String?

    func configuration() throws -> KafkaConfiguration {
        try KafkaConfiguration.resolve(
            environment: CommandEnvironment.values, bootstrapServers: kafkaBootstrapServers,
            propertiesFile: kafkaPropertiesFile, overrides: try KafkaConfiguration.parseProperties(kafkaProperties))
    }

    var resolvedTopic: String { topic ?? CommandEnvironment.string(Settings.topic) ?? "guardian.events" }
}

/// Store connection and storage options.
struct StoreOptions: ParsableArguments {
    @Option(help: "PostgreSQL/TimescaleDB URI (env TIMESCALEDB_URI).")
    var timescaledbURI: String?

    @Option(help: "Redis host (env REDIS_HOST, default 127.0.0.1).")
    var redisHost: String?

    @Option(help: "Redis port (env REDIS_PORT, default 6379).")
    var redisPort: Int?

    @Option(help: "Redis ACL user (env REDIS_USERNAME; default: the legacy requirepass user).")
    var redisUsername: String?

    @Option(help: "A file holding the Redis password (env REDIS_PASSWORD_FILE). Prefer it, or env REDIS_PASSWORD, to a flag: flags show in ps.")
    var redisPasswordFile: String?

    @Option(help: "Redis logical database (env REDIS_DB, default 0).")
    var redisDb: Int?

    @Option(help: "Chunk (or partition) interval in seconds (env GUARDIAN_CHUNK_INTERVAL_SECONDS, default 3600).")
    var chunkIntervalSeconds: Int?

    @Option(help: "Retention in hours, at least 24 (env GUARDIAN_RETENTION_HOURS, default 168).")
    var retentionHours: Int?

    @Option(help: "TimescaleDB compresses chunks older than this many hours (env GUARDIAN_COMPRESS_AFTER_HOURS, default 24).")
    var compressAfterHours: Int?

    var postgres: PostgresConfiguration {
        PostgresConfiguration(uri: timescaledbURI ?? CommandEnvironment.string(Settings.timescaledbURI) ?? PostgresConfiguration().uri)
    }
    /// Redis settings; the password comes from `REDIS_PASSWORD`, or the file named by
    /// `--redis-password-file` / `REDIS_PASSWORD_FILE` (a Kubernetes Secret mounted as a file).
    var redis: RedisConfiguration {
        get throws {
            var password = CommandEnvironment.string(Settings.redisPassword)
            if let path = redisPasswordFile ?? CommandEnvironment.string(Settings.redisPasswordFile) {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw ValidationError("cannot read the Redis password file \(path) (--redis-password-file / REDIS_PASSWORD_FILE)")
                }
                password = text.trimmingCharacters(in: .newlines)
            }
            let db = try redisDb ?? CommandEnvironment.int(Settings.redisDB) ?? 0
            guard db >= 0 else { throw ValidationError("REDIS_DB must be 0 or more, not \(db)") }
            let defaults = RedisConfiguration()
            return RedisConfiguration(
                host: redisHost ?? CommandEnvironment.string(Settings.redisHost) ?? defaults.host,
                port: try redisPort ?? CommandEnvironment.int(Settings.redisPort) ?? defaults.port,
                username: redisUsername ?? CommandEnvironment.string(Settings.redisUsername),
                password: password, database: db)
        }
    }

    func storage() throws -> StorageSettings {
        let defaults = StorageSettings()
        let chunk = try chunkIntervalSeconds ?? CommandEnvironment.int(Settings.chunkIntervalSeconds)
        let retention = try retentionHours ?? CommandEnvironment.int(Settings.retentionHours)
        let compress = try compressAfterHours ?? CommandEnvironment.int(Settings.compressAfterHours)
        let s = StorageSettings(
            chunkInterval: chunk.map { .seconds($0) } ?? defaults.chunkInterval,
            retention: retention.map { .seconds($0 * 3600) } ?? defaults.retention,
            compressAfter: compress.map { .seconds($0 * 3600) } ?? defaults.compressAfter)
        try s.validate()
        return s
    }
}

/// Ends a command that asked the brokers to describe a group: flushes output and exits without running
/// exit-time teardown. librdkafka 2.0.2 leaves the client of a failed DescribeConsumerGroups (the dev
/// broker answers _UNSUPPORTED_FEATURE) unable to be destroyed, so `KafkaAdmin` leaves it alive; its
/// threads then crashed the normal process exit about once in 60 runs (SIGSEGV after the output).
func exitAfterDescribingGroups() -> Never {
    fflush(nil)
    _exit(0)
}

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

    func configuration() throws -> KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: kafkaBootstrapServers, properties: try KafkaConfiguration.parseProperties(kafkaProperties))
    }

    var resolvedTopic: String { topic ?? Env.string("GUARDIAN_TOPIC") ?? "guardian.events" }
}

/// Store connection and storage options.
struct StoreOptions: ParsableArguments {
    @Option(help: "PostgreSQL/TimescaleDB URI (env TIMESCALEDB_URI).")
    var timescaledbURI: String?

    @Option(help: "Redis host (env REDIS_HOST, default 127.0.0.1).")
    var redisHost: String?

    @Option(help: "Redis port (env REDIS_PORT, default 6379).")
    var redisPort: Int?

    @Option(help: "Chunk (or partition) interval in seconds (env GUARDIAN_CHUNK_INTERVAL_SECONDS, default 3600).")
    var chunkIntervalSeconds: Int?

    @Option(help: "Retention in hours, at least 24 (env GUARDIAN_RETENTION_HOURS, default 168).")
    var retentionHours: Int?

    @Option(help: "TimescaleDB compresses chunks older than this many hours (env GUARDIAN_COMPRESS_AFTER_HOURS, default 24).")
    var compressAfterHours: Int?

    var postgres: PostgresConfiguration { PostgresConfiguration(uri: timescaledbURI) }
    var redis: RedisConfiguration { RedisConfiguration(host: redisHost, port: redisPort) }

    func storage() throws -> StorageSettings {
        let s = StorageSettings(
            chunkInterval: chunkIntervalSeconds.map { .seconds($0) },
            retention: retentionHours.map { .seconds($0 * 3600) },
            compressAfter: compressAfterHours.map { .seconds($0 * 3600) })
        try s.validate()
        return s
    }
}

import ArgumentParser
import Foundation
import GuardianKafka
import GuardianPostgres
import GuardianPublisher
import GuardianRedis
import GuardianStores
import GuardianWorker

/// One setting the command line reads from the environment: its variable, its flag and its default.
/// The libraries never read the environment; every command resolves flag → variable → default here,
/// through `Settings.all` (README's configuration table is tested against it: `guardian settings`).
struct Setting: Sendable, Hashable {
    let variable: String
    /// `--flag`, or nil when only the variable sets it.
    let flag: String?
    /// The default as README shows it, or nil for none.
    let defaultValue: String?
    /// Printed as `***` by `guardian settings`; never logged.
    var secret = false
    /// A URI whose password only is hidden.
    var uri = false

    /// The value as `guardian settings` shows it.
    func display(_ value: String) -> String {
        if secret { return "***" }
        return uri ? PostgresConfiguration.redact(value) : value
    }
}

/// Every environment variable the fleet's commands read (the one table). Defaults come from the
/// libraries' own, so the two cannot disagree.
enum Settings {
    private static let worker = WorkerConfiguration()
    static let kafkaBootstrapServers = Setting(variable: "KAFKA_BOOTSTRAP_SERVERS", flag: "--kafka-bootstrap-servers", defaultValue: KafkaConfiguration().bootstrapServers)
    static let kafkaPropertiesFile = Setting(variable: KafkaConfiguration.propertiesFileVariable, flag: "--kafka-properties-file", defaultValue: nil)
    static let topic = Setting(variable: "GUARDIAN_TOPIC", flag: "--topic", defaultValue: worker.topic)
    static let group = Setting(variable: "GUARDIAN_GROUP", flag: "--group", defaultValue: worker.group)
    static let timescaledbURI = Setting(variable: "TIMESCALEDB_URI", flag: "--timescaledb-uri", defaultValue: PostgresConfiguration().uri, uri: true)
    static let redisHost = Setting(variable: "REDIS_HOST", flag: "--redis-host", defaultValue: RedisConfiguration().host)
    static let redisPort = Setting(variable: "REDIS_PORT", flag: "--redis-port", defaultValue: String(RedisConfiguration().port))
    static let redisUsername = Setting(variable: "REDIS_USERNAME", flag: "--redis-username", defaultValue: nil)
    static let redisPassword = Setting(variable: "REDIS_PASSWORD", flag: nil, defaultValue: nil, secret: true)
    static let redisPasswordFile = Setting(variable: "REDIS_PASSWORD_FILE", flag: "--redis-password-file", defaultValue: nil)
    static let redisDB = Setting(variable: "REDIS_DB", flag: "--redis-db", defaultValue: String(RedisConfiguration().database))
    static let actor = Setting(variable: "GUARDIAN_ACTOR", flag: nil, defaultValue: "user@host")
    static let batchMaxEvents = Setting(variable: "GUARDIAN_BATCH_MAX_EVENTS", flag: "--batch-max-events", defaultValue: String(worker.batch.maxEvents))
    static let batchMaxAgeMs = Setting(variable: "GUARDIAN_BATCH_MAX_AGE_MS", flag: "--batch-max-age-ms", defaultValue: String(worker.batch.maxAge.components.seconds * 1000 + worker.batch.maxAge.components.attoseconds / 1_000_000_000_000_000))
    static let metricsHost = Setting(variable: "GUARDIAN_METRICS_HOST", flag: "--metrics-host", defaultValue: worker.metricsHost)
    static let metricsPort = Setting(variable: "GUARDIAN_METRICS_PORT", flag: "--metrics-port", defaultValue: String(worker.metricsPort))
    static let workerID = Setting(variable: "GUARDIAN_WORKER_ID", flag: "--worker-id", defaultValue: "worker-<pid>")
    static let instanceID = Setting(variable: "GUARDIAN_INSTANCE_ID", flag: "--instance-id", defaultValue: nil)
    static let deadLetterTopic = Setting(variable: "GUARDIAN_DLQ_TOPIC", flag: "--dead-letter-topic", defaultValue: "<topic>.dlq")
    static let bufferMaxMB = Setting(variable: "GUARDIAN_BUFFER_MAX_MB", flag: "--buffer-max-mb", defaultValue: String(worker.maxBufferedBytes >> 20))
    static let writeLanes = Setting(variable: "GUARDIAN_WRITE_LANES", flag: "--write-lanes", defaultValue: String(worker.writeLanes))
    static let maxEventBytes = Setting(variable: "GUARDIAN_MAX_EVENT_BYTES", flag: "--max-event-bytes", defaultValue: String(worker.maxEventBytes))
    static let shutdownTimeoutSeconds = Setting(variable: "GUARDIAN_SHUTDOWN_TIMEOUT_SECONDS", flag: "--shutdown-timeout-seconds", defaultValue: String(worker.shutdownTimeout.components.seconds))
    static let skipDurable = Setting(variable: "GUARDIAN_SKIP_DURABLE", flag: nil, defaultValue: worker.skipDurableOnAssignment ? "1" : "0")
    static let chunkIntervalSeconds = Setting(variable: "GUARDIAN_CHUNK_INTERVAL_SECONDS", flag: "--chunk-interval-seconds", defaultValue: String(StorageSettings().chunkInterval.components.seconds))
    static let retentionHours = Setting(variable: "GUARDIAN_RETENTION_HOURS", flag: "--retention-hours", defaultValue: String(StorageSettings().retention.components.seconds / 3600))
    static let compressAfterHours = Setting(variable: "GUARDIAN_COMPRESS_AFTER_HOURS", flag: "--compress-after-hours", defaultValue: String(StorageSettings().compressAfter.components.seconds / 3600))
    static let schemasDir = Setting(variable: "GUARDIAN_SCHEMAS_DIR", flag: "--schemas-dir", defaultValue: nil)
    static let spoolDir = Setting(variable: "GUARDIAN_SPOOL_DIR", flag: "--spool-dir", defaultValue: "./guardian-spool")
    static let spoolMaxMB = Setting(variable: "GUARDIAN_SPOOL_MAX_MB", flag: "--spool-max-mb", defaultValue: String(PublisherConfiguration().spoolMaxBytes >> 20))
    static let apiListen = Setting(variable: "GUARDIAN_API_LISTEN", flag: "--listen", defaultValue: "127.0.0.1:8080")
    static let consoleDir = Setting(variable: "GUARDIAN_CONSOLE_DIR", flag: "--console-dir", defaultValue: nil)
    static let alertWebhookURL = Setting(variable: "GUARDIAN_ALERT_WEBHOOK_URL", flag: "--alert-webhook-url", defaultValue: nil, secret: true)
    static let alertKinds = Setting(variable: "GUARDIAN_ALERT_KINDS", flag: "--alert-kinds", defaultValue: nil)
    static let apiRateLimit = Setting(variable: "GUARDIAN_API_RATE_LIMIT", flag: "--rate-limit", defaultValue: "100")
    static let logLevel = Setting(variable: "GUARDIAN_LOG_LEVEL", flag: "--log-level", defaultValue: "info")
    static let devBrokerControl = Setting(variable: "GUARDIAN_DEV_BROKER_CONTROL", flag: "--control", defaultValue: nil)
    static let devBrokers = Setting(variable: "GUARDIAN_DEV_BROKERS", flag: "--brokers", defaultValue: "3")
    static let runDir = Setting(variable: "GUARDIAN_RUN_DIR", flag: "--log-dir", defaultValue: ".run")

    /// The `KAFKA_*` variables `KafkaConfiguration.resolve(environment:)` maps to librdkafka properties.
    static let kafkaProperties: [Setting] = KafkaConfiguration.environmentProperties.map {
        Setting(variable: $0.variable, flag: nil, defaultValue: nil, secret: KafkaConfiguration.isSecret($0.property))
    }

    /// libpq reads these itself when the URI has no password.
    static let libpq: [Setting] = [
        Setting(variable: "PGPASSWORD", flag: nil, defaultValue: nil, secret: true),
        Setting(variable: "PGPASSFILE", flag: nil, defaultValue: nil),
    ]

    static let all: [Setting] = [
        kafkaBootstrapServers, topic, group, timescaledbURI, redisHost, redisPort, redisUsername, redisPassword,
        redisPasswordFile, redisDB, kafkaPropertiesFile,
    ] + kafkaProperties + libpq + [
        actor, batchMaxEvents, batchMaxAgeMs, metricsHost, metricsPort, workerID, instanceID, deadLetterTopic,
        bufferMaxMB, writeLanes, maxEventBytes, shutdownTimeoutSeconds, skipDurable, chunkIntervalSeconds,
        retentionHours, compressAfterHours, schemasDir, spoolDir, spoolMaxMB, apiListen, consoleDir,
        alertWebhookURL, alertKinds, apiRateLimit, logLevel, devBrokerControl, devBrokers, runDir,
    ]
}

/// The process environment: read here, and only here, by every command.
enum CommandEnvironment {
    static var values: [String: String] { ProcessInfo.processInfo.environment }

    /// The variable's value, or nil when unset or empty.
    static func string(_ setting: Setting) -> String? {
        guard let value = values[setting.variable], !value.isEmpty else { return nil }
        return value
    }

    /// The variable's integer value, or nil when unset; a value that is not a number is an error naming it.
    static func int(_ setting: Setting) throws -> Int? {
        guard let text = string(setting) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("\(setting.variable)=\(text) is not a whole number")
        }
        return value
    }
}

/// `guardian settings`: every setting, its variable, flag and default, and what this environment sets.
struct SettingsCommandLine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "List every environment variable the commands read: flag, default, and the value set here (secrets as ***).")

    @Flag(help: "Tab-separated, one setting per line: variable, flag, default, value.")
    var tsv = false

    func run() {
        let rows = Settings.all.map { s -> [String] in
            let value = CommandEnvironment.string(s).map(s.display) ?? "-"
            return [s.variable, s.flag ?? "-", s.defaultValue ?? "-", value]
        }
        if tsv {
            for r in rows { print(r.joined(separator: "\t")) }
            return
        }
        let header = ["VARIABLE", "FLAG", "DEFAULT", "SET HERE"]
        let widths = (0..<3).map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        for r in [header] + rows {
            print((0..<3).map { r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ") + "  " + r[3])
        }
    }
}

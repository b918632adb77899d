import Foundation
import GuardianKafka
import GuardianPostgres
import GuardianRedis

/// Settings of `guardian api`: plain values with documented defaults (the CLI reads flags and the
/// environment into them).
public struct APIConfiguration: Sendable {
    /// Where the API listens. Default `127.0.0.1`, port 8080 (`GUARDIAN_API_LISTEN`).
    public var host: String
    public var port: Int
    public var postgres: PostgresConfiguration
    public var redis: RedisConfiguration
    /// nil: `/v1/fleet` answers without lag (no Kafka configured).
    public var kafka: KafkaConfiguration?
    /// The workers' topic and group, whose lag `/v1/fleet` shows.
    public var topic: String
    public var group: String
    /// Requests per second each token may make (a token bucket of `rateLimitBurst`). Default 100.
    public var rateLimitPerSecond: Double
    /// Default 200.
    public var rateLimitBurst: Double
    /// How often `/v1/fleet`'s lag is sampled. Default 5 s.
    public var lagInterval: Duration
    /// How long a verified token is trusted before its row is read again (a revoke takes effect
    /// within it). Default 2 s.
    public var tokenCacheTTL: Duration
    /// Connections to PostgreSQL the API spreads its queries over. Default 4.
    public var databaseConnections: Int
    /// Chat webhooks every alert of `alertKinds` is posted to (Slack-compatible JSON). Default none.
    public var webhookURLs: [URL]
    /// The alert types posted to the webhooks. Default `defaultAlertKinds`.
    public var alertKinds: Set<String>
    /// The first retry of a failed post waits this long, doubling up to 60 s; 10 attempts. Default 1 s.
    public var webhookRetryBase: Duration
    /// Every alert type: `risk_breach`, `circuit_breaker` and the fleet's.
    public static let allAlertKinds: [String] = ["risk_breach", "circuit_breaker"] + FleetAlertRules.types
    /// All but recoveries (`lag_ok`, `cache_up`).
    public static let defaultAlertKinds: Set<String> = Set(allAlertKinds).subtracting(["lag_ok", "cache_up"])
    /// The console's static files (the repository's `console/`), served at `/`; nil serves no console.
    public var consoleDirectory: String?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, postgres: PostgresConfiguration, redis: RedisConfiguration,
        kafka: KafkaConfiguration?, topic: String = "guardian.events", group: String = "guardian-workers",
        rateLimitPerSecond: Double = 100, rateLimitBurst: Double = 200, lagInterval: Duration = .seconds(5),
        tokenCacheTTL: Duration = .seconds(2), databaseConnections: Int = 4, consoleDirectory: String? = nil,
        webhookURLs: [URL] = [], alertKinds: Set<String> = defaultAlertKinds, webhookRetryBase: Duration = .seconds(1)
    ) {
        self.host = host
        self.port = port
        self.postgres = postgres
        self.redis = redis
        self.kafka = kafka
        self.topic = topic
        self.group = group
        self.rateLimitPerSecond = rateLimitPerSecond
        self.rateLimitBurst = rateLimitBurst
        self.lagInterval = lagInterval
        self.tokenCacheTTL = tokenCacheTTL
        self.databaseConnections = max(1, databaseConnections)
        self.consoleDirectory = consoleDirectory
        self.webhookURLs = webhookURLs
        self.alertKinds = alertKinds
        self.webhookRetryBase = webhookRetryBase
    }
}

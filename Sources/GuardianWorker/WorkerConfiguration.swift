#if canImport(Glibc)
import Glibc
#endif
import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianSupport

/// Everything a worker needs, as plain values with documented defaults (the library never reads the
/// environment: `guardian worker` resolves flags and variables, see README "Configuration").
public struct WorkerConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    /// Events topic. Default `guardian.events`.
    public var topic: String
    /// Consumer group. Default `guardian-workers`.
    public var group: String
    public var postgres: PostgresConfiguration
    public var redis: RedisConfiguration
    public var batch: BatchPolicy
    public var storage: StorageSettings
    /// Prometheus `/metrics` listener. Default 127.0.0.1, port 9400; port 0 disables it.
    public var metricsHost: String
    public var metricsPort: Int
    /// How often lag per owned partition is measured. Default 5 s.
    public var lagInterval: Duration
    /// How often partitions are maintained on plain PostgreSQL. Default 5 min.
    public var maintenanceInterval: Duration
    /// A name for logs and metrics. Default `worker-<pid>`.
    public var workerID: String
    /// Where messages that can never be stored go (besides `guardian_dead_letters`).
    /// Default `<topic>.dlq`.
    public var deadLetterTopic: String
    /// Consumed events waiting for their database write, in bytes of Kafka data; over it the owned
    /// partitions are paused (polling goes on, so the worker stays in the group) until half of it
    /// is written. Default 32 MB (about 100,000 events: seconds of the database's
    /// throughput; 64 MB put a draining worker over 150 MB of RSS).
    public var maxBufferedBytes: Int
    /// The longest wait between two attempts of a failing write. Default 5 s.
    public var maxRetryDelay: Duration
    /// How often what became durable is committed to Kafka (each commit is a round trip on the
    /// consumer's thread, so not after every write). Default 100 ms; a crash redelivers at most about
    /// this much, which the checkpoints and idempotent writes absorb. Revocations and shutdown commit at once.
    public var commitInterval: Duration = .milliseconds(100)
    /// On SIGTERM, how long the in-flight write may take to finish before it is abandoned (not
    /// committed; redelivered to the next owner). Default 20 s.
    public var shutdownTimeout: Duration
    /// When a partition is assigned with a committed offset behind `guardian_checkpoints` (its previous
    /// owner wrote, then died or lost it before committing), start at the checkpoint instead of
    /// reading the durable tail again. Default true. An operator who rewinds the group's offsets to
    /// re-process must move the checkpoints too (or turn this off).
    public var skipDurableOnAssignment: Bool
    /// Events larger than this are dead-lettered as `oversized`. Default 1,000,000.
    public var maxEventBytes: Int
    /// Database writes under way at once, each on its own connection and for its own partitions
    /// (partition mod lanes), so per-partition order holds. Default 2: with one,
    /// the writer waited for each commit's WAL flush with nothing else to do; draining 300,000 events on
    /// 2 cores (TimescaleDB), two lanes did 72-82k events/s where one did 48-64k in the same runs.
    /// 1 writes one batch at a time.
    public var writeLanes: Int

    public init(
        kafka: KafkaConfiguration = KafkaConfiguration(),
        topic: String = "guardian.events", group: String = "guardian-workers",
        postgres: PostgresConfiguration = PostgresConfiguration(),
        redis: RedisConfiguration = RedisConfiguration(),
        batch: BatchPolicy = BatchPolicy(maxEvents: 5000, maxAge: .milliseconds(20)),
        storage: StorageSettings = StorageSettings(),
        metricsHost: String = "127.0.0.1", metricsPort: Int = 9400,
        lagInterval: Duration = .seconds(5), maintenanceInterval: Duration = .seconds(300),
        workerID: String? = nil,
        deadLetterTopic: String? = nil, maxBufferedBytes: Int = 32 << 20,
        maxRetryDelay: Duration = .seconds(5), shutdownTimeout: Duration = .seconds(20),
        maxEventBytes: Int = GuardianEvent.defaultMaxEventBytes, skipDurableOnAssignment: Bool = true, writeLanes: Int = 2
    ) {
        self.kafka = kafka
        self.topic = topic
        self.group = group
        self.postgres = postgres
        self.redis = redis
        self.batch = batch
        self.storage = storage
        self.metricsHost = metricsHost
        self.metricsPort = metricsPort
        self.lagInterval = lagInterval
        self.maintenanceInterval = maintenanceInterval
        self.workerID = workerID ?? "worker-\(ProcessInfoPID.current)"
        self.deadLetterTopic = deadLetterTopic ?? "\(topic).dlq"
        self.maxBufferedBytes = maxBufferedBytes
        self.maxRetryDelay = maxRetryDelay
        self.shutdownTimeout = shutdownTimeout
        self.maxEventBytes = maxEventBytes
        self.skipDurableOnAssignment = skipDurableOnAssignment
        self.writeLanes = max(1, writeLanes)
    }
}

enum ProcessInfoPID {
    static var current: Int32 { getpid() }
}

/// Switches for fault tests only; not part of the production configuration.
@_spi(Testing) public struct WorkerTestHooks: Sendable {
    /// After this many durable batch writes the process kills itself with SIGKILL before committing
    /// their offsets, as a crash between the two would.
    public var crashAfterDatabaseCommits: Int?

    public init(crashAfterDatabaseCommits: Int? = nil) {
        self.crashAfterDatabaseCommits = crashAfterDatabaseCommits
    }
}

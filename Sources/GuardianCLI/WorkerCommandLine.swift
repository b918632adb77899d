import ArgumentParser
import GuardianHTTP
import GuardianSupport
@_spi(Testing) import GuardianWorker
import Logging
import Prometheus
import ServiceLifecycle

/// `guardian worker`: one worker process of the fleet. SIGTERM/SIGINT drain it: the current batch is
/// made durable, offsets are committed, the group is left.
struct WorkerCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Consume guardian events and persist them to TimescaleDB and Redis, committing only durable offsets.")

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var log: LogOptions

    @Option(help: "Consumer group (env GUARDIAN_GROUP, default guardian-workers).")
    var group: String?

    @Option(help: "The most events one poll and one database write take (env GUARDIAN_BATCH_MAX_EVENTS, default 5000).")
    var batchMaxEvents: Int?

    @Option(help: "The longest an idle poll blocks for the first message, in milliseconds; no message waits for a batch to fill (env GUARDIAN_BATCH_MAX_AGE_MS, default 20).")
    var batchMaxAgeMs: Int?

    @Option(help: "Metrics listen address (env GUARDIAN_METRICS_HOST, default 127.0.0.1).")
    var metricsHost: String?

    @Option(help: "Metrics port; 0 disables /metrics (env GUARDIAN_METRICS_PORT, default 9400).")
    var metricsPort: Int?

    @Option(help: "Worker name in logs (env GUARDIAN_WORKER_ID, default worker-<pid>).")
    var workerID: String?

    @Option(help: "Static group membership id (env GUARDIAN_INSTANCE_ID; sets group.instance.id): a worker restarted in place within the session timeout gets its partitions back without a rebalance. Unique per worker.")
    var instanceID: String?

    @Option(help: "Dead-letter topic (env GUARDIAN_DLQ_TOPIC, default <topic>.dlq).")
    var deadLetterTopic: String?

    @Option(help: "Buffer of consumed events awaiting their database write, in MB; over it partitions are paused (env GUARDIAN_BUFFER_MAX_MB, default 32).")
    var bufferMaxMb: Int?

    @Option(help: "Events larger than this are dead-lettered as oversized (env GUARDIAN_MAX_EVENT_BYTES, default 1000000).")
    var maxEventBytes: Int?

    @Option(help: "On SIGTERM, seconds the in-flight write may take before it is abandoned (env GUARDIAN_SHUTDOWN_TIMEOUT_SECONDS, default 20).")
    var shutdownTimeoutSeconds: Int?

    @Option(help: "Database writes under way at once, each on its own connection for its own partitions (env GUARDIAN_WRITE_LANES, default 2).")
    var writeLanes: Int?

    #if DEBUG
    /// Fault tests only (WorkerCrashTests): SIGKILL after this many durable writes. Not in release builds.
    @Option(help: .hidden)
    var testCrashAfterDbCommits: Int?
    #endif

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.worker")
        let env = CommandEnvironment.self
        let defaults = WorkerConfiguration()
        var kafkaConfiguration = try kafka.configuration()
        if let instance = instanceID ?? env.string(Settings.instanceID) {
            kafkaConfiguration.properties["group.instance.id"] = instance
        }
        let batch = BatchPolicy(
            maxEvents: try batchMaxEvents ?? env.int(Settings.batchMaxEvents) ?? defaults.batch.maxEvents,
            maxAge: try (batchMaxAgeMs ?? env.int(Settings.batchMaxAgeMs)).map { .milliseconds($0) } ?? defaults.batch.maxAge)
        let bufferMB = try bufferMaxMb ?? env.int(Settings.bufferMaxMB)
        let shutdownSeconds = try shutdownTimeoutSeconds ?? env.int(Settings.shutdownTimeoutSeconds)
        let configuration = WorkerConfiguration(
            kafka: kafkaConfiguration, topic: kafka.resolvedTopic, group: group ?? env.string(Settings.group) ?? defaults.group,
            postgres: store.postgres, redis: try store.redis, batch: batch, storage: try store.storage(),
            metricsHost: metricsHost ?? env.string(Settings.metricsHost) ?? defaults.metricsHost,
            metricsPort: try metricsPort ?? env.int(Settings.metricsPort) ?? defaults.metricsPort,
            workerID: workerID ?? env.string(Settings.workerID),
            deadLetterTopic: deadLetterTopic ?? env.string(Settings.deadLetterTopic),
            maxBufferedBytes: bufferMB.map { $0 << 20 } ?? defaults.maxBufferedBytes,
            shutdownTimeout: shutdownSeconds.map { .seconds($0) } ?? defaults.shutdownTimeout,
            maxEventBytes: try maxEventBytes ?? env.int(Settings.maxEventBytes) ?? defaults.maxEventBytes,
            skipDurableOnAssignment: try env.int(Settings.skipDurable).map { $0 != 0 } ?? defaults.skipDurableOnAssignment,
            writeLanes: try writeLanes ?? env.int(Settings.writeLanes) ?? defaults.writeLanes)

        // A busy metrics address fails here, before joining the group, with what to change.
        if configuration.metricsPort > 0 {
            try ListenAddress.checkAvailable(
                host: configuration.metricsHost, port: configuration.metricsPort,
                setting: "GUARDIAN_METRICS_PORT / --metrics-port (0 turns /metrics off; give each worker on a host its own port)")
        }
        let registry = PrometheusCollectorRegistry()
        MetricsServer.bootstrap(registry: registry)
        #if DEBUG
        let hooks = WorkerTestHooks(crashAfterDatabaseCommits: testCrashAfterDbCommits)
        #else
        let hooks = WorkerTestHooks()
        #endif
        let worker = Worker(configuration: configuration, logger: logger, testHooks: hooks)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup),
        ]
        if configuration.metricsPort > 0 {
            let http = MetricsServer.application(
                registry: registry, host: configuration.metricsHost, port: configuration.metricsPort, logger: logger,
                readiness: { let h = worker.health; return (h.ready, h.json) },
                onRunning: { bound in
                    logger.info("serving /metrics, /healthz, /readyz", metadata: ["address": "\(configuration.metricsHost):\(bound)"])
                })
            services.append(.init(service: http, failureTerminationBehavior: .cancelGroup))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

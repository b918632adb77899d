import ArgumentParser
import GuardianHTTP
import GuardianSupport
import GuardianWorker
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

    @Option(help: "Batch size limit in events (env GUARDIAN_BATCH_MAX_EVENTS, default 5000).")
    var batchMaxEvents: Int?

    @Option(help: "Batch age limit in milliseconds (env GUARDIAN_BATCH_MAX_AGE_MS, default 20).")
    var batchMaxAgeMs: Int?

    @Option(help: "Metrics listen address (env GUARDIAN_METRICS_HOST, default 127.0.0.1).")
    var metricsHost: String?

    @Option(help: "Metrics port; 0 disables /metrics (env GUARDIAN_METRICS_PORT, default 9400).")
    var metricsPort: Int?

    @Option(help: "Worker name in logs (env GUARDIAN_WORKER_ID, default worker-<pid>).")
    var workerID: String?

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.worker")
        let defaults = WorkerConfiguration()
        let configuration = WorkerConfiguration(
            kafka: try kafka.configuration(), topic: kafka.topic, group: group,
            postgres: store.postgres, redis: store.redis,
            batch: BatchPolicy(
                maxEvents: batchMaxEvents ?? defaults.batch.maxEvents,
                maxAge: batchMaxAgeMs.map { .milliseconds($0) } ?? defaults.batch.maxAge),
            storage: try store.storage(), metricsHost: metricsHost, metricsPort: metricsPort, workerID: workerID)

        let registry = PrometheusCollectorRegistry()
        MetricsServer.bootstrap(registry: registry)
        let worker = Worker(configuration: configuration, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup),
        ]
        if configuration.metricsPort > 0 {
            let http = MetricsServer.application(
                registry: registry, host: configuration.metricsHost, port: configuration.metricsPort, logger: logger)
            services.append(.init(service: http, failureTerminationBehavior: .cancelGroup))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

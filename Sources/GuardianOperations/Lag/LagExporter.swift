import GuardianKafka
import Logging
import Metrics
import ServiceLifecycle

/// `guardian lag --serve`: samples groups' lag on a fixed interval and exports it as gauges, independent
/// of the workers, so lag stays visible when they die:
/// - `guardian_consumer_lag_messages{group,topic,partition}`
/// - `guardian_consumer_lag_seconds{group,topic,partition}` (age of the oldest unconsumed message)
/// - `guardian_consumer_partition_status{group,topic,partition}` and
///   `guardian_consumer_group_status{group,topic}` (0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP)
/// - `guardian_lag_exporter_sample_errors_total{group,topic}`, `guardian_lag_exporter_up{group,topic}`
public final class LagExporter: Service, Sendable {
    /// What to watch and how often.
    public struct Configuration: Sendable {
        /// (group, topic) pairs.
        public var targets: [(group: String, topic: String)]
        /// Time between samples. Default 10 s.
        public var interval: Duration
        /// Samples in the status window. Default 10 (Burrow's).
        public var windowSize: Int

        public init(targets: [(group: String, topic: String)], interval: Duration = .seconds(10), windowSize: Int = 10) {
            self.targets = targets
            self.interval = interval
            self.windowSize = windowSize
        }
    }

    private let configuration: Configuration
    private let sampler: LagSampler
    private let logger: Logger

    public init(configuration: Configuration, kafka: KafkaConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.sampler = try LagSampler(kafka: kafka)
        self.logger = logger
    }

    public func run() async throws {
        let interval = configuration.interval
        let stopAfter = Double(configuration.windowSize) * Double(interval.components.seconds)
        var evaluators = configuration.targets.map { _ in
            LagEvaluator(windowSize: configuration.windowSize, stopAfter: max(stopAfter, 1))
        }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            for (i, target) in configuration.targets.enumerated() {
                let dims = [("group", target.group), ("topic", target.topic)]
                do {
                    let sample = try await sampler.sample(group: target.group, topic: target.topic)
                    evaluators[i].record(sample)
                    for p in sample.partitions {
                        let pd = dims + [("partition", String(p.partition))]
                        Gauge(label: "guardian_consumer_lag_messages", dimensions: pd).record(Double(p.lag))
                        if let t = p.timeLagSeconds { Gauge(label: "guardian_consumer_lag_seconds", dimensions: pd).record(t) }
                        Gauge(label: "guardian_consumer_partition_status", dimensions: pd)
                            .record(Double(evaluators[i].status(partition: p.partition).severity))
                    }
                    Gauge(label: "guardian_consumer_group_status", dimensions: dims).record(Double(evaluators[i].groupStatus.severity))
                    Gauge(label: "guardian_lag_exporter_up", dimensions: dims).record(1)
                } catch {
                    Counter(label: "guardian_lag_exporter_sample_errors_total", dimensions: dims).increment()
                    Gauge(label: "guardian_lag_exporter_up", dimensions: dims).record(0)
                    logger.warning("lag sample failed", metadata: ["group": "\(target.group)", "topic": "\(target.topic)", "error": "\(error)"])
                }
            }
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

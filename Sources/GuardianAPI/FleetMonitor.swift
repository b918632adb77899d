import Foundation
import GuardianKafka
import GuardianOperations
import Logging
import ServiceLifecycle
import Synchronization

/// Samples the workers' group lag every `interval` (as `guardian lag` does) and keeps the statuses
/// after Burrow's rules (`LagEvaluator`), for `/v1/fleet`. A service of `guardian api`.
final class FleetMonitor: Service, Sendable {
    struct Snapshot: Sendable {
        var sample: GroupLagSample?
        var statuses: [Int32: LagStatus] = [:]
        var groupStatus: LagStatus = .ok
        /// Why the last sample failed, if it did.
        var error: String?
    }

    private let sampler: LagSampler?
    private let group: String
    private let topic: String
    private let interval: Duration
    private let logger: Logger
    private let latest = Mutex(Snapshot())

    init(kafka: KafkaConfiguration?, group: String, topic: String, interval: Duration, logger: Logger) {
        var sampler: LagSampler?
        var problem: String?
        if let kafka {
            do { sampler = try LagSampler(kafka: kafka) } catch { problem = "\(error)" }
        } else {
            problem = "no Kafka configured (KAFKA_BOOTSTRAP_SERVERS)"
        }
        self.sampler = sampler
        self.group = group
        self.topic = topic
        self.interval = interval
        self.logger = logger
        latest.withLock { $0.error = problem }
    }

    var snapshot: Snapshot { latest.withLock { $0 } }

    func run() async throws {
        guard let sampler else {
            // Nothing to sample; a service that returns would end the whole group.
            try? await gracefulShutdown()
            return
        }
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        var evaluator = LagEvaluator(windowSize: 10, stopAfter: max(1, 10 * seconds))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let sample = try await sampler.sample(group: group, topic: topic)
                evaluator.record(sample)
                latest.withLock { $0 = Snapshot(sample: sample, statuses: evaluator.partitionStatuses, groupStatus: evaluator.groupStatus) }
            } catch {
                latest.withLock { $0.error = "\(error)" }
                logger.warning("fleet lag sample failed", metadata: ["error": "\(error)"])
            }
            _ = try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
        }
    }
}

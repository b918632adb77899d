import Foundation
import GuardianKafka
import GuardianOperations
import Logging
import ServiceLifecycle
import Synchronization

/// Every `interval`: samples the workers' group lag (as `guardian lag` does) and keeps the statuses
/// after Burrow's rules (`LagEvaluator`) for `/v1/fleet`; probes Redis and counts dead letters; and
/// hands what `FleetAlertRules` makes of it to the alert stream. A service of `guardian api`.
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
    private let probes: Probes

    /// What the monitor looks at besides lag, and where its alerts go.
    struct Probes: Sendable {
        var redisReachable: @Sendable () async -> Bool
        var deadLetters: @Sendable () async throws -> [String: Int]
        var publish: @Sendable ([Alert]) -> Void
    }

    init(kafka: KafkaConfiguration?, group: String, topic: String, interval: Duration, logger: Logger, probes: Probes) {
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
        self.probes = probes
        latest.withLock { $0.error = problem }
    }

    var snapshot: Snapshot { latest.withLock { $0 } }

    func run() async throws {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        var evaluator = LagEvaluator(windowSize: 10, stopAfter: max(1, 10 * seconds))
        var rules = FleetAlertRules(group: group, topic: topic)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var observation = FleetAlertRules.Observation(micros: Int64(Date().timeIntervalSince1970 * 1_000_000))
            if let sampler {
                do {
                    let sample = try await sampler.sample(group: group, topic: topic)
                    evaluator.record(sample)
                    latest.withLock { $0 = Snapshot(sample: sample, statuses: evaluator.partitionStatuses, groupStatus: evaluator.groupStatus) }
                    observation.groupStatus = evaluator.groupStatus
                    observation.partitionStatuses = evaluator.partitionStatuses
                } catch {
                    latest.withLock { $0.error = "\(error)" }
                    logger.warning("fleet lag sample failed", metadata: ["error": "\(error)"])
                }
            }
            observation.redisReachable = await probes.redisReachable()
            observation.deadLetters = try? await probes.deadLetters()
            probes.publish(rules.observe(observation))
            _ = try? await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
        }
    }
}

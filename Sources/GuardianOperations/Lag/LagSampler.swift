import Foundation
import GuardianKafka
import Synchronization

/// Measures a group's lag on a topic from the outside — committed offsets from the group
/// coordinator, watermarks from the partition leaders, the oldest unconsumed message's timestamp —
/// so it works with every worker down. Keep one per process: it holds its Kafka clients.
public final class LagSampler: Sendable {
    private let admin: KafkaAdmin
    private let reader: KafkaPartitionReader
    /// Whether DescribeGroups works on this cluster (the dev broker cannot answer it); asked once.
    private let describes = Mutex<Bool?>(nil)

    /// - Parameter describeGroups: ask the brokers for the group's members (CONSUMER-ID). Off by default:
    ///   against a broker without DescribeGroups (the dev broker) librdkafka 2.0.2 crashed the process
    ///   about once in 60 runs (SIGSEGV); turn it on for Apache Kafka.
    public init(kafka: KafkaConfiguration, describeGroups: Bool = false) throws {
        describes.withLock { $0 = describeGroups ? nil : false }
        admin = try KafkaAdmin(configuration: kafka)
        reader = try KafkaPartitionReader(configuration: kafka)
    }

    /// One sample of `group` on `topic`.
    public func sample(group: String, topic: String, timeout: Duration = .seconds(10)) async throws -> GroupLagSample {
        var partitions = try await admin.partitionOffsets(topic: topic, group: group, timeout: timeout).map {
            PartitionLagSample(partition: $0.partition, committed: $0.committed, low: $0.low, end: $0.high)
        }
        // Time lag: the age of the oldest unconsumed message, read where there is lag.
        let now = Date().timeIntervalSince1970
        let behind = partitions.filter { $0.lag > 0 }
        let oldest = try await reader.messages(
            at: behind.map { TopicPartitionOffset(topic: topic, partition: $0.partition, offset: $0.position) }, timeout: timeout)
        for i in partitions.indices {
            if partitions[i].lag == 0 {
                partitions[i].timeLagSeconds = 0
            } else if let ts = oldest[TopicPartition(topic, partitions[i].partition)]?.timestampMs {
                partitions[i].timeLagSeconds = max(0, now - Double(ts) / 1000)
            }
        }
        var membersKnown = false
        if describes.withLock({ $0 }) != false {
            do {
                let description = try await admin.describeGroup(group, timeout: timeout)
                describes.withLock { $0 = true }
                membersKnown = true
                for m in description.members {
                    for tp in m.assignment where tp.topic == topic {
                        if let i = partitions.firstIndex(where: { $0.partition == tp.partition }) { partitions[i].consumerID = m.consumerID }
                    }
                }
            } catch {
                describes.withLock { if $0 == nil { $0 = false } }
            }
        }
        return GroupLagSample(group: group, topic: topic, time: now, partitions: partitions, membersKnown: membersKnown)
    }
}

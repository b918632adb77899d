import GuardianKafka
import GuardianSupport
import Logging

/// `guardian offsets reset`: plans and applies a move of a group's committed offsets.
///
/// A group with running members is refused: where the broker describes groups (Apache Kafka) from its
/// member list; where it cannot (the dev broker), by joining the group — a member that is assigned
/// fewer than all of the topic's partitions shares the group with others. The offsets are committed
/// as a member of the group (join, commit, leave), which both Apache Kafka and the dev broker accept
/// (the dev broker refuses commits from non-members of a group that has had members).
public final class OffsetResetter: Sendable {
    private let kafka: KafkaConfiguration
    private let admin: KafkaAdmin
    private let reader: KafkaPartitionReader
    private let logger: Logger
    private let describeGroups: Bool

    /// - Parameter describeGroups: check for running members with DescribeGroups first (Apache Kafka);
    ///   off by default, see `LagSampler`. The join check runs either way.
    public init(kafka: KafkaConfiguration, logger: Logger, describeGroups: Bool = false) throws {
        self.kafka = kafka
        self.describeGroups = describeGroups
        self.admin = try KafkaAdmin(configuration: kafka)
        self.reader = try KafkaPartitionReader(configuration: kafka)
        self.logger = logger
    }

    /// The group's committed offsets and the log's bounds for every partition of `topic`.
    public func state(group: String, topic: String) async throws -> [OffsetResetPlan.PartitionState] {
        try await admin.partitionOffsets(topic: topic, group: group)
    }

    /// Plans the reset; for `.datetime` the offsets come from the broker or a binary search
    /// (`method` says which).
    public func plan(group: String, topic: String, target: OffsetResetPlan.Target, only: Set<Int32>?) async throws
        -> (plan: OffsetResetPlan, method: TimestampSearch.Method?)
    {
        let partitions = try await state(group: group, topic: topic)
        var timeOffsets: [Int32: Int64] = [:]
        var method: TimestampSearch.Method?
        if case .datetime(let ms) = target {
            let search = TimestampSearch(admin: admin, reader: reader)
            let bounds = partitions.filter { only?.contains($0.partition) ?? true }
                .map { TimestampSearch.Bounds(topicPartition: TopicPartition(topic, $0.partition), low: $0.low, high: $0.high) }
            let found = try await search.offsets(atOrAfter: ms, bounds)
            for (tp, o) in found.offsets { timeOffsets[tp.partition] = o }
            method = found.method
        }
        return (try OffsetResetPlan.make(target, partitions: partitions, only: only, timeOffsets: timeOffsets), method)
    }

    /// How it was established that nobody else is in the group.
    public enum MembershipCheck: Sendable, Equatable {
        /// The broker described the group: empty.
        case described(state: String)
        /// The broker cannot describe groups; joining got every partition of the topic.
        case joined(reason: String)

        public var text: String {
            switch self {
            case .described(let state): "the broker describes the group as \(state) with no members"
            case .joined(let reason): "no group description (\(reason)); joining the group got every partition, so no other member is running"
            }
        }
    }

    /// Applies `plan`: checks that no member is running, calls `beforeCommit` (while holding the group,
    /// so nobody can join in between), commits, leaves the group, and reads the committed offsets back.
    public func execute(
        group: String, topic: String, plan: OffsetResetPlan, joinTimeout: Duration = .seconds(60),
        beforeCommit: @Sendable () async throws -> Void = {}
    ) async throws -> (check: MembershipCheck, committed: [Int32: Int64?]) {
        var check: MembershipCheck = .joined(reason: "group descriptions not asked for (--describe-groups)")
        if describeGroups { do {
            let d = try await admin.describeGroup(group)
            if d.hasMembers {
                let who = d.members.map { "\($0.consumerID) on \($0.host)" }.joined(separator: ", ")
                throw OperationError(.groupActive, "group '\(group)' has \(d.members.count) running member(s) (\(who)): stop its workers first, then run the reset again")
            }
            check = .described(state: d.state)
        } catch let error as KafkaError {
            check = .joined(reason: error.message)
        } }

        let consumer = try KafkaConsumer(configuration: kafka, groupID: group)  // revoke commits nothing
        do {
            try await consumer.subscribe(topics: [topic])
            let partitions = try await admin.endOffsets(topic: topic).count
            let deadline = ContinuousClock.now + joinTimeout
            var assigned: [TopicPartition] = []
            while assigned.isEmpty {
                guard ContinuousClock.now < deadline else {
                    throw OperationError(.timeout, "joining group '\(group)' got no assignment within \(joinTimeout) (members that died hold a rebalance for their session timeout; try again)")
                }
                _ = try await consumer.poll(maxMessages: 1, timeout: .milliseconds(200))
                assigned = try await consumer.assignment().filter { $0.topic == topic }
            }
            try await consumer.pause(assigned)
            if assigned.count < partitions {
                throw OperationError(.groupActive, "group '\(group)' has other running members: joining it got \(assigned.count) of \(partitions) partitions of '\(topic)'. Stop its workers first, then run the reset again")
            }
            try await beforeCommit()
            try await consumer.commit(plan.moves.map { TopicPartitionOffset(topic: topic, partition: $0.partition, offset: $0.new) })
            try await consumer.close()
        } catch {
            try? await consumer.close()
            throw error
        }
        let after = try await admin.committedOffsets(groupID: group, partitions: plan.moves.map { TopicPartition(topic, $0.partition) })
        return (check, Dictionary(after.map { ($0.partition, $0.offset) }, uniquingKeysWith: { a, _ in a }))
    }
}

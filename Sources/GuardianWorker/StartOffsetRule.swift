import GuardianKafka
import GuardianStores

/// Where a newly assigned partition starts — pure, so each case is unit-tested.
/// `guardian_checkpoints` holds, per consumer group and partition, the next offset after the group's
/// newest durable batch (every offset below it that the group read is in the database: a worker writes
/// a partition's batches in order, from a committed offset), and the offset the group had committed to
/// Kafka when it wrote that batch. Only this group's checkpoints are given here: another group's say
/// nothing about what this one stored.
///
/// - committed offset outside the log (out of range), or none while a checkpoint exists → the
///   checkpoint, clamped to what the log still holds; without a checkpoint, the oldest offset
///   (an alert: Kafka's checkpoint was unusable);
/// - committed offset inside the log, behind the checkpoint, and equal to the offset the group itself
///   last committed (a worker died, or lost the partition in a rebalance, after its write and before
///   its commit) → the checkpoint, when `skipDurable`: what is already durable is not read again;
/// - committed offset inside the log, behind the checkpoint, but not where the group last committed
///   (an operator rewound it with an outside tool, or the group's record lags a commit) → the
///   committed offset, said as `committedMovedElsewhere`: a rewind is honoured, never undone;
/// - otherwise → the committed offset (or `auto.offset.reset=earliest` when there is none).
///
/// Never the end of the log: skipping ahead of what is durable would silently lose events.
public enum StartOffsetRule {
    public enum Reason: String, Sendable, Equatable {
        /// The group has no committed offset, but the database has a checkpoint (group lost or recreated).
        case noCommittedOffset = "no_committed_offset"
        /// The committed offset is outside the log (retention deleted it, or the topic was recreated).
        case committedOutOfRange = "committed_out_of_range"
        /// The committed offset is behind what is durable (the batches between were written, not committed).
        case checkpointAhead = "checkpoint_ahead"
        /// The committed offset is behind the checkpoint but not where the group last committed: someone
        /// moved it (a rewind). It is kept; the decision's offset is the committed offset.
        case committedMovedElsewhere = "committed_moved_elsewhere"

        /// True when Kafka's committed offset was unusable (an alert), false otherwise.
        public var isAlert: Bool { self == .noCommittedOffset || self == .committedOutOfRange }
    }

    public struct Decision: Sendable, Equatable {
        public var topicPartition: TopicPartition
        public var offset: Int64
        public var reason: Reason
        /// The checkpoint used, when there was one.
        public var checkpoint: Int64?

        public init(topicPartition: TopicPartition, offset: Int64, reason: Reason, checkpoint: Int64?) {
            self.topicPartition = topicPartition
            self.offset = offset
            self.reason = reason
            self.checkpoint = checkpoint
        }
    }

    public static func decide(_ partitions: [AssignedPartition], checkpoints: [Int32: Checkpoints.Entry], skipDurable: Bool = true) -> [Decision] {
        partitions.compactMap { p in
            let entry = checkpoints[p.topicPartition.partition]
            let checkpoint = entry?.nextOffset
            let reason: Reason
            if let committed = p.committed {
                if committed >= p.low && committed <= p.high {
                    guard skipDurable, let entry, entry.nextOffset > committed, entry.nextOffset <= p.high else { return nil }
                    guard entry.committedOffset == committed else {
                        return Decision(topicPartition: p.topicPartition, offset: committed, reason: .committedMovedElsewhere,
                                        checkpoint: entry.nextOffset)
                    }
                    return Decision(topicPartition: p.topicPartition, offset: entry.nextOffset, reason: .checkpointAhead,
                                    checkpoint: entry.nextOffset)
                }
                reason = .committedOutOfRange
            } else {
                guard checkpoint != nil else { return nil }
                reason = .noCommittedOffset
            }
            // A checkpoint past the end means the log was recreated: read all of the new one.
            let offset = checkpoint.map { $0 < p.low || $0 > p.high ? p.low : $0 } ?? p.low
            return Decision(topicPartition: p.topicPartition, offset: offset, reason: reason, checkpoint: checkpoint)
        }
    }
}

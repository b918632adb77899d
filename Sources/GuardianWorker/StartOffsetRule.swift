import GuardianKafka

/// Where a newly assigned partition starts when Kafka's committed offset is unusable — pure, so each
/// case is unit-tested. `guardian_checkpoints` holds the next offset after the newest durable batch.
///
/// - committed offset inside the log → keep it (the normal case; also what an operator's reset set);
/// - committed offset outside the log (out of range), or none while a checkpoint exists → the
///   checkpoint, clamped to what the log still holds; without a checkpoint, the oldest offset;
/// - neither → nothing to decide (`auto.offset.reset=earliest`).
///
/// Never the end of the log: skipping ahead would silently lose events.
public enum StartOffsetRule {
    public enum Reason: String, Sendable, Equatable {
        /// The group has no committed offset, but the database has a checkpoint (group lost or recreated).
        case noCommittedOffset = "no_committed_offset"
        /// The committed offset is outside the log (retention deleted it, or the topic was recreated).
        case committedOutOfRange = "committed_out_of_range"
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

    public static func decide(_ partitions: [AssignedPartition], checkpoints: [Int32: Int64]) -> [Decision] {
        partitions.compactMap { p in
            let checkpoint = checkpoints[p.topicPartition.partition]
            let reason: Reason
            if let committed = p.committed {
                guard committed < p.low || committed > p.high else { return nil }
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

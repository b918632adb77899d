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
/// A checkpoint is honoured (either way) only when the record just before it is still the one the group
/// stored: its digest is read from the log first (`recordsToVerify`). Another record there — the topic
/// was deleted and recreated, or this is a disaster-recovery cluster whose offsets differ — means the
/// checkpoint describes another log: no skip (`checkpointUnverified`), and a group whose committed
/// offset is unusable reads the whole log (`checkpointNotInLog`, an alert). A row written before the
/// digests existed cannot be checked: it is never used to skip, only to recover.
///
/// Never the end of the log: skipping ahead of what is durable would silently lose events.
package enum StartOffsetRule {
    package enum Reason: String, Sendable, Equatable, CaseIterable {
        /// The group has no committed offset, but the database has a checkpoint (group lost or recreated).
        case noCommittedOffset = "no_committed_offset"
        /// The committed offset is outside the log (retention deleted it, or the topic was recreated).
        case committedOutOfRange = "committed_out_of_range"
        /// The committed offset is behind what is durable (the batches between were written, not committed).
        case checkpointAhead = "checkpoint_ahead"
        /// The committed offset is behind the checkpoint but not where the group last committed: someone
        /// moved it (a rewind). It is kept; the decision's offset is the committed offset.
        case committedMovedElsewhere = "committed_moved_elsewhere"
        /// The checkpoint is ahead of the committed offset, but the log does not hold the record it ends
        /// at (or it could not be read): the committed offset is kept, nothing skipped.
        case checkpointUnverified = "checkpoint_unverified"
        /// The committed offset is unusable and the checkpoint does not match the log (a recreated topic,
        /// another cluster): the partition is read from its oldest offset.
        case checkpointNotInLog = "checkpoint_not_in_log"

        /// True when Kafka's committed offset was unusable (an alert), false otherwise.
        package var isAlert: Bool { self == .noCommittedOffset || self == .committedOutOfRange || self == .checkpointNotInLog }
        /// True when the decision starts from the checkpoint (not from the committed or the oldest offset).
        package var resumesAtCheckpoint: Bool { self == .noCommittedOffset || self == .committedOutOfRange || self == .checkpointAhead }
    }

    package struct Decision: Sendable, Equatable {
        package var topicPartition: TopicPartition
        package var offset: Int64
        package var reason: Reason
        /// The checkpoint used, when there was one.
        package var checkpoint: Int64?

        package init(topicPartition: TopicPartition, offset: Int64, reason: Reason, checkpoint: Int64?) {
            self.topicPartition = topicPartition
            self.offset = offset
            self.reason = reason
            self.checkpoint = checkpoint
        }
    }

    /// Where the records before the checkpoints that `decide` could honour are: read each from the log
    /// and pass their digests to `decide`.
    package static func recordsToVerify(_ partitions: [AssignedPartition], checkpoints: [Int32: Checkpoints.Entry],
                                       skipDurable: Bool = true) -> [TopicPartitionOffset] {
        partitions.compactMap { p in
            guard let entry = checkpoints[p.topicPartition.partition], entry.lastRecord != nil,
                  entry.nextOffset > p.low, entry.nextOffset <= p.high else { return nil }
            if let committed = p.committed, committed >= p.low && committed <= p.high {
                guard skipDurable, entry.nextOffset > committed, entry.committedOffset == committed else { return nil }
            }
            return TopicPartitionOffset(p.topicPartition, offset: entry.nextOffset - 1)
        }
    }

    /// The start of each partition that does not simply resume at its committed offset. `logRecords` holds
    /// the digest of the record read at each checkpoint's `nextOffset - 1` (see `recordsToVerify`); one
    /// missing there (not read, or another offset) does not match.
    package static func decide(_ partitions: [AssignedPartition], checkpoints: [Int32: Checkpoints.Entry],
                              logRecords: [TopicPartition: Int64] = [:], skipDurable: Bool = true) -> [Decision] {
        partitions.compactMap { p in
            let entry = checkpoints[p.topicPartition.partition]
            let checkpoint = entry?.nextOffset
            let matchesLog = entry?.lastRecord.map { $0 == logRecords[p.topicPartition] }
            let reason: Reason
            if let committed = p.committed {
                if committed >= p.low && committed <= p.high {
                    guard skipDurable, let entry, entry.nextOffset > committed, entry.nextOffset <= p.high else { return nil }
                    guard entry.committedOffset == committed else {
                        return Decision(topicPartition: p.topicPartition, offset: committed, reason: .committedMovedElsewhere,
                                        checkpoint: entry.nextOffset)
                    }
                    guard matchesLog == true else {
                        return Decision(topicPartition: p.topicPartition, offset: committed, reason: .checkpointUnverified,
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
            guard let checkpoint, checkpoint >= p.low, checkpoint <= p.high else {
                // No checkpoint, or one outside the log (the log was recreated): read all of it.
                return Decision(topicPartition: p.topicPartition, offset: p.low, reason: reason, checkpoint: checkpoint)
            }
            if checkpoint > p.low && matchesLog == false {
                return Decision(topicPartition: p.topicPartition, offset: p.low, reason: .checkpointNotInLog, checkpoint: checkpoint)
            }
            return Decision(topicPartition: p.topicPartition, offset: checkpoint, reason: reason, checkpoint: checkpoint)
        }
    }
}

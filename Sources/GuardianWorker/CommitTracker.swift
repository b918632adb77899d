import GuardianKafka

/// Tracks, per owned partition, the offset up to which everything is durable and what has been
/// committed, and decides what to commit. Pure state: the worker guards it with a lock, because
/// rebalance callbacks reach it from the consumer thread.
///
/// Invariant: an offset is only ever offered for commit after `markDurable` covered it, and never
/// for a partition this worker no longer owns.
package struct CommitTracker: Sendable, Equatable {
    struct PartitionState: Sendable, Equatable {
        /// Next offset to read after everything durable (what a commit stores), if anything became durable.
        var durable: Int64?
        /// The last offset committed by this worker.
        var committed: Int64?
    }

    private var partitions: [TopicPartition: PartitionState] = [:]

    package init() {}

    /// The partitions this worker owns, sorted.
    package var owned: [TopicPartition] { partitions.keys.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) } }

    package func owns(_ tp: TopicPartition) -> Bool { partitions[tp] != nil }

    /// Partitions were assigned (added to what is owned).
    package mutating func assign(_ tps: [TopicPartition]) {
        for tp in tps where partitions[tp] == nil { partitions[tp] = PartitionState() }
    }

    /// Records that every message of `tp` before `nextOffset` is durable (or deliberately handled).
    /// Ignored for partitions not owned: their batch may have raced a revocation. Never moves back.
    package mutating func markDurable(_ tp: TopicPartition, nextOffset: Int64) {
        guard var state = partitions[tp] else { return }
        state.durable = max(state.durable ?? nextOffset, nextOffset)
        partitions[tp] = state
    }

    /// Offsets that are durable but not yet committed.
    package func pendingCommits() -> [TopicPartitionOffset] {
        owned.compactMap { tp in
            guard let state = partitions[tp], let durable = state.durable, durable != state.committed else { return nil }
            return TopicPartitionOffset(tp, offset: durable)
        }
    }

    /// Records a successful commit.
    package mutating func markCommitted(_ offsets: [TopicPartitionOffset]) {
        for o in offsets {
            guard var state = partitions[o.topicPartition], let offset = o.offset else { continue }
            state.committed = max(state.committed ?? offset, offset)
            partitions[o.topicPartition] = state
        }
    }

    /// Partitions are being revoked cleanly: returns what must still be committed for them (durable,
    /// uncommitted) and forgets them.
    package mutating func revoke(_ tps: [TopicPartition]) -> [TopicPartitionOffset] {
        let wanted = Set(tps)
        let pending = pendingCommits().filter { wanted.contains($0.topicPartition) }
        for tp in tps { partitions[tp] = nil }
        return pending
    }

    /// Partitions were lost (another member may own them already): forget them, commit nothing.
    package mutating func lose(_ tps: [TopicPartition]) {
        for tp in tps { partitions[tp] = nil }
    }

    /// The last committed offset per owned partition.
    package var committedOffsets: [TopicPartitionOffset] {
        owned.map { TopicPartitionOffset($0, offset: partitions[$0]?.committed) }
    }
}

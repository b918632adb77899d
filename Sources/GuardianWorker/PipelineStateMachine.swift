import GuardianKafka

/// A polled and decoded batch in the worker's buffer, waiting for (or under) its database write.
package struct PipelineBatch: Sendable {
    package let id: Int
    package var decoded: DecodedBatch
    /// Bytes of Kafka data it holds (keys and values), counted against the buffer limit.
    package internal(set) var bytes: Int
    /// The assignment epoch of each of its partitions when it was polled.
    var epochs: [TopicPartition: Int]
}

/// The worker's decisions, as a pure state machine guarded by the worker's lock: what is buffered,
/// what is being written, which partitions are paused, what may be committed. The I/O around it
/// (poll, write, commit, pause, resume) lives in `Worker`; every rule here is unit-tested without servers.
///
/// - Polled batches are split into `writeLanes` lanes by partition (a partition always in the same lane) and
///   queue in order; each lane has one database write at a time, so writes are in offset order per partition
///   while the lanes' writes overlap (one's COPY runs while another's commit waits for its WAL flush). What
///   queued in a lane while its write was under way is written together in the next one (up to
///   `maxEventsPerWrite`): one transaction instead of one per poll, so the writer catches up after a slow write.
/// - Buffered bytes over `maxBufferedBytes` pause every owned partition (polling goes on, so the group
///   membership stays alive); under half of it they resume.
/// - An offset becomes committable only when its batch is durable, and only for a partition owned in
///   the same assignment epoch as when the batch was polled: a partition revoked and assigned again
///   restarts from its committed offset, so an older batch must not move its durable mark.
package struct PipelineStateMachine: Sendable {
    package enum Action: Sendable, Equatable {
        case pause([TopicPartition])
        case resume([TopicPartition])
        case commit([TopicPartitionOffset])
    }

    package let maxBufferedBytes: Int
    /// The most events one write takes from the queue (at least one polled batch, whatever its size).
    package let maxEventsPerWrite: Int
    /// Writes that may be under way at once, each for its own partitions.
    package let writeLanes: Int
    package private(set) var tracker = CommitTracker()
    package private(set) var bufferedBytes = 0
    package private(set) var paused: Set<TopicPartition> = []
    /// Per lane, the batch under its database write.
    private var writing: [PipelineBatch?]
    /// Per lane, the batches waiting for their write.
    private var queues: [[PipelineBatch]]
    private var epochs: [TopicPartition: Int] = [:]
    private var nextEpoch = 0
    private var nextID = 0
    package private(set) var stopping = false

    package init(maxBufferedBytes: Int, maxEventsPerWrite: Int = 5000, writeLanes: Int = 1) {
        self.maxBufferedBytes = max(1, maxBufferedBytes)
        self.maxEventsPerWrite = max(1, maxEventsPerWrite)
        self.writeLanes = max(1, writeLanes)
        writing = Array(repeating: nil, count: self.writeLanes)
        queues = Array(repeating: [], count: self.writeLanes)
    }

    /// The lane whose writes carry `tp`'s events.
    package func lane(of tp: TopicPartition) -> Int { Int(tp.partition.magnitude % UInt32(writeLanes)) }
    /// True when nothing is buffered or being written.
    package var isIdle: Bool { writing.allSatisfy { $0 == nil } && queues.allSatisfy(\.isEmpty) }
    /// The batch under its database write in `lane`.
    package func writing(lane: Int = 0) -> PipelineBatch? { writing[lane] }
    package func owns(_ tp: TopicPartition) -> Bool { tracker.owns(tp) }
    private var overLimit: Bool { bufferedBytes >= maxBufferedBytes }

    // MARK: ownership

    /// Partitions were assigned (in a new epoch each). While the buffer is full, the next
    /// `flowControl` pauses them too. `durableUpTo` holds the partitions that start at a checkpoint:
    /// everything before it is durable, so it is committed even if nothing new arrives.
    package mutating func assigned(_ tps: [TopicPartition], durableUpTo: [TopicPartition: Int64] = [:]) {
        tracker.assign(tps)
        for tp in tps {
            nextEpoch += 1
            epochs[tp] = nextEpoch
            if let offset = durableUpTo[tp] { tracker.markDurable(tp, nextOffset: offset) }
        }
    }

    /// Partitions are being revoked cleanly: returns what is durable and uncommitted for them.
    package mutating func revoked(_ tps: [TopicPartition]) -> [TopicPartitionOffset] {
        forget(tps)
        return tracker.revoke(tps)
    }

    /// Partitions were lost (another member may own them already): nothing is committed for them.
    package mutating func lost(_ tps: [TopicPartition]) {
        forget(tps)
        tracker.lose(tps)
    }

    private mutating func forget(_ tps: [TopicPartition]) {
        for tp in tps {
            epochs[tp] = nil
            paused.remove(tp)
        }
    }

    // MARK: the buffer and the writer

    /// A batch was polled and decoded. Messages of partitions not owned (fetched before a revocation)
    /// are dropped; the rest is queued in the lanes of its partitions (its `bytes` shared by message
    /// count). Returns true when something was queued (wake the writers).
    package mutating func polled(_ batch: DecodedBatch, bytes: Int) -> Bool {
        guard !stopping else { return false }
        let owned = batch.filtered { epochs[$0] != nil }
        guard owned.messageCount > 0 else { return false }
        let parts = writeLanes == 1 ? [owned] : owned.split(into: writeLanes) { lane(of: $0) }
        var bytesLeft = bytes, messagesLeft = owned.messageCount
        for (l, part) in parts.enumerated() where part.messageCount > 0 {
            let share = part.messageCount == messagesLeft ? bytesLeft : bytes * part.messageCount / owned.messageCount
            bytesLeft -= share
            messagesLeft -= part.messageCount
            nextID += 1
            var partitionEpochs: [TopicPartition: Int] = [:]
            for tp in part.nextOffsets.keys { partitionEpochs[tp] = epochs[tp] }
            queues[l].append(PipelineBatch(id: nextID, decoded: part, bytes: share, epochs: partitionEpochs))
        }
        bufferedBytes += bytes
        return true
    }

    /// The next batch to write in `lane`: the oldest queued one, with the ones queued after it while they
    /// fit in `maxEventsPerWrite`, each limited to partitions still owned in the epoch it was polled in;
    /// nil when there is none or the lane's write is under way.
    package mutating func nextWrite(lane: Int = 0) -> PipelineBatch? {
        guard writing[lane] == nil, !stopping else { return nil }
        var merged: PipelineBatch?
        while !queues[lane].isEmpty {
            var batch = queues[lane][0]
            batch.decoded = batch.decoded.filtered { tp in epochs[tp] != nil && epochs[tp] == batch.epochs[tp] }
            if let m = merged, m.decoded.messageCount + batch.decoded.messageCount > maxEventsPerWrite { break }
            queues[lane].removeFirst()
            guard batch.decoded.messageCount > 0 else {
                bufferedBytes -= batch.bytes
                continue
            }
            if var m = merged {
                m.decoded.append(batch.decoded)
                m.bytes += batch.bytes
                m.epochs.merge(batch.epochs) { _, later in later }
                merged = m
            } else {
                merged = batch
            }
        }
        writing[lane] = merged
        return merged
    }

    /// Whether any partition of the batch being written in `lane` is still owned in the epoch it was
    /// polled in (false: its partitions moved; a write that keeps failing is given up).
    package func writingIsOwned(lane: Int = 0) -> Bool {
        guard let batch = writing[lane] else { return false }
        return batch.decoded.nextOffsets.keys.contains { tp in epochs[tp] != nil && epochs[tp] == batch.epochs[tp] }
    }

    /// The write of `lane`'s current batch ended: durable, or abandoned (stopping; nothing committed for it).
    package mutating func writeFinished(lane: Int = 0, durable: Bool) {
        guard let batch = writing[lane] else { return }
        writing[lane] = nil
        bufferedBytes -= batch.bytes
        guard durable else { return }
        for (tp, next) in batch.decoded.nextOffsets where epochs[tp] != nil && epochs[tp] == batch.epochs[tp] {
            tracker.markDurable(tp, nextOffset: next)
        }
    }

    /// What to do with the consumer now: pause when the buffer is over its limit, resume under half
    /// of it, and (with `includeCommits`) commit what became durable.
    package mutating func flowControl(includeCommits: Bool = true) -> [Action] {
        var actions: [Action] = []
        if overLimit {
            let fresh = tracker.owned.filter { !paused.contains($0) }
            if !fresh.isEmpty {
                paused.formUnion(fresh)
                actions.append(.pause(fresh))
            }
        } else if !paused.isEmpty && bufferedBytes <= maxBufferedBytes / 2 {
            let all = paused.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
            paused.removeAll()
            actions.append(.resume(all))
        }
        guard includeCommits else { return actions }
        let pending = tracker.pendingCommits()
        if !pending.isEmpty { actions.append(.commit(pending)) }
        return actions
    }

    /// A commit succeeded.
    package mutating func committed(_ offsets: [TopicPartitionOffset]) {
        tracker.markCommitted(offsets)
    }

    /// Stop: no new batch is queued or started; the queued ones are dropped (never written, never
    /// committed: redelivered to the next owner). Returns how many messages were dropped.
    @discardableResult
    package mutating func stop() -> Int {
        stopping = true
        let queued = queues.joined()
        let dropped = queued.reduce(0) { $0 + $1.decoded.messageCount }
        bufferedBytes -= queued.reduce(0) { $0 + $1.bytes }
        for l in queues.indices { queues[l].removeAll() }
        return dropped
    }
}

import GuardianKafka
import GuardianPostgres
import GuardianStores
import Logging
import Synchronization

/// The consumer's two rebalance callbacks (both on the consumer thread, inside a poll): where newly
/// assigned partitions start (`StartOffsetRule`, with the database's checkpoints and the log's records
/// read here), and keeping the state machine in step with ownership.
final class PartitionAssignments: Sendable {
    private let configuration: WorkerConfiguration
    private let state: WorkerState
    private var logger: Logger { state.logger }
    /// Start offsets chosen from the checkpoints for the assignment under way.
    private let checkpointStarts = Mutex<[TopicPartition: Int64]>([:])
    /// The checkpoint epoch of each owned partition as read when it was assigned: this worker's writes
    /// move a checkpoint only while `offsets reset` has not lowered it since.
    private let checkpointEpochs = Mutex<[TopicPartition: Int64]>([:])
    /// Reads the records before checkpoints from the log (made once).
    private let recordReader = Mutex<KafkaPartitionReader?>(nil)

    init(configuration: WorkerConfiguration, state: WorkerState) {
        self.configuration = configuration
        self.state = state
    }

    /// The checkpoint epochs of the owned partitions, as read at their assignment.
    var epochs: [TopicPartition: Int64] { checkpointEpochs.withLock { $0 } }

    /// Connects the record reader before the first assignment needs it.
    func prepare() { _ = reader() }

    /// Keeps the state machine in step with ownership and hands over what must be committed before
    /// revoked partitions move. `writing` are the writes under way (one per lane); `abandoned`, whether
    /// shutdown gave up on them.
    func rebalanced(_ event: RebalanceEvent, writing: [InFlightWrite], abandoned: Bool) -> [TopicPartitionOffset] {
        defer { state.publishOwnership() }
        switch event {
        case .assigned(let tps):
            let starts = checkpointStarts.withLock { s in defer { s.removeAll() }; return s }
            let owned = state.machine.withLock { m in m.assigned(tps, durableUpTo: starts); return m.tracker.owned.count }
            logger.info("partitions assigned", metadata: ["partitions": "\(tps.map(\.description))", "owned": "\(owned)"])
            return []
        case .revoked(let tps):
            // Finish the in-flight batches first when they hold revoked partitions, so what they make durable
            // is committed before the partitions move — unless the database is failing (waiting would
            // hold up the whole group), or shutdown has abandoned them (their deadline passed); their events
            // are then redelivered to the next owner, idempotently. The lanes' writes run at once, so the
            // waits overlap (30 s in all).
            let deadline = ContinuousClock.now + .seconds(30)
            for write in writing where !write.isFailing && !abandoned && !Set(tps).isDisjoint(with: write.batch.decoded.nextOffsets.keys) {
                _ = write.wait(timeout: max(.zero, deadline - .now))
            }
            let pending = state.machine.withLock { m in m.revoked(tps) }
            logger.info("partitions revoked; committing what is durable", metadata: [
                "partitions": "\(tps.map(\.description))", "committing": "\(pending.map(\.description))",
            ])
            return pending
        case .lost(let tps):
            state.machine.withLock { m in m.lost(tps) }
            logger.warning("partitions lost; nothing committed for them", metadata: ["partitions": "\(tps.map(\.description))"])
            return []
        }
    }

    /// Where newly assigned partitions start (see `StartOffsetRule`): the database's checkpoint when
    /// the committed offset is unusable, or behind what is already durable. Blocks the consumer thread
    /// for the database read (bounded: a database that does not answer leaves the committed offsets).
    func startOffsets(_ partitions: [AssignedPartition]) -> [TopicPartitionOffset] {
        guard !partitions.isEmpty else { return [] }
        let postgres = configuration.postgres, topic = configuration.topic, group = configuration.group
        let skipDurable = configuration.skipDurableOnAssignment
        let reader = self.reader()
        // Bounded: a database that does not answer leaves the committed offsets (re-read, never skipped).
        // 10 s, not less: on a loaded machine 3 s was once too short and a whole topic was read again.
        // The record read can take a while on a loaded cluster; giving up on it re-reads whole partitions.
        let read = Blocking.run(timeout: .seconds(25)) { () async throws -> ([Int32: Checkpoints.Entry], [TopicPartition: Int64]) in
            let checkpoints = try await Checkpoints(connection: try await PostgresConnection.connect(postgres)).read(group: group, topic: topic)
            // The record each usable checkpoint ends at, read from the log: is it still the one stored?
            let wanted = StartOffsetRule.recordsToVerify(partitions, checkpoints: checkpoints, skipDurable: skipDurable)
            var digests: [TopicPartition: Int64] = [:]
            if !wanted.isEmpty, let reader {
                let found = (try? await reader.messages(at: wanted, timeout: .seconds(15))) ?? [:]
                for w in wanted {
                    if let m = found[w.topicPartition], m.offset == w.offset { digests[w.topicPartition] = m.recordDigest }
                }
            }
            return (checkpoints, digests)
        }
        if case .failure(let error) = read {
            logger.error("could not read guardian_checkpoints for the assigned partitions; starting from the committed offsets",
                         metadata: ["error": "\(error)"])
        }
        let (checkpoints, logRecords) = (try? read.get()) ?? ([:], [:])
        checkpointEpochs.withLock { epochs in
            for p in partitions { epochs[p.topicPartition] = checkpoints[p.topicPartition.partition]?.epoch }
        }
        let decisions = StartOffsetRule.decide(partitions, checkpoints: checkpoints, logRecords: logRecords, skipDurable: skipDurable)
        for d in decisions { log(d, committed: partitions.first { $0.topicPartition == d.topicPartition }?.committed, logRecords: logRecords) }
        state.count { s in
            // Only partitions that really resumed from a checkpoint (not from the oldest offset, for want of one).
            s.checkpointRestores += decisions.filter { $0.reason.isAlert && $0.reason.resumesAtCheckpoint && $0.checkpoint != nil }.count
            for d in decisions where !d.reason.isAlert {
                s.skippedDurable += Int(d.offset - (partitions.first { $0.topicPartition == d.topicPartition }?.committed ?? d.offset))
            }
        }
        checkpointStarts.withLock { s in for d in decisions { s[d.topicPartition] = d.offset } }
        return decisions.map { TopicPartitionOffset($0.topicPartition, offset: $0.offset) }
    }

    private func log(_ d: StartOffsetRule.Decision, committed: Int64?, logRecords: [TopicPartition: Int64]) {
        state.metrics.checkpointRestores(d.reason.rawValue).increment()
        var metadata: Logger.Metadata = [
            "partition": "\(d.topicPartition)", "reason": "\(d.reason.rawValue)", "resume_at": "\(d.offset)",
            "checkpoint": "\(d.checkpoint.map(String.init) ?? "none")", "committed": "\(committed.map(String.init) ?? "none")",
        ]
        if d.reason == .checkpointNotInLog || d.reason == .checkpointUnverified {
            metadata["record_check"] = "\(logRecords[d.topicPartition] == nil ? "not read (timed out, or gone from the log)" : "another record at that offset")"
        }
        if d.reason == .checkpointNotInLog {
            logger.error("""
                ALERT: committed offset unusable, and the log does not hold the record the database's checkpoint ends at \
                (topic recreated? another cluster?); reading the partition from its oldest offset
                """, metadata: metadata)
        } else if d.reason.isAlert {
            logger.error("ALERT: committed offset unusable; resuming from the database's checkpoint (never from the end)", metadata: metadata)
        } else if d.reason == .checkpointUnverified {
            logger.warning("""
                the database's checkpoint is ahead of the committed offset, but the log does not hold the record it ends at \
                (or it could not be read); keeping the committed offset: events from there are read again
                """, metadata: metadata)
        } else if d.reason == .committedMovedElsewhere {
            logger.warning("the committed offset was moved by someone else (not where this group last committed); honouring it: events from there are read again", metadata: metadata)
        } else {
            logger.info("resuming after what is already durable (written, not yet committed, by the previous owner)", metadata: metadata)
        }
    }

    /// The reader of single records for checkpoint checks; nil (and logged) when it cannot be made, in
    /// which case no checkpoint is honoured.
    private func reader() -> KafkaPartitionReader? {
        recordReader.withLock { r in
            if r == nil {
                do {
                    r = try KafkaPartitionReader(configuration: configuration.kafka)
                } catch {
                    logger.error("could not make a reader to check checkpoints against the log; none is honoured", metadata: ["error": "\(error)"])
                }
            }
            return r
        }
    }
}

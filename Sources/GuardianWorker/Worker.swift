#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import GuardianEvents
import GuardianSupport
import GuardianKafka
import GuardianPostgres
import GuardianStores
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// One worker process's pipeline, as a ServiceLifecycle service.
///
/// Two loops around one pure state machine (`PipelineStateMachine`):
/// - the **consumer loop** polls (always — heartbeats and rebalances are served even while the
///   database is down), decodes, queues the batch in a bounded buffer, updates the Redis state cache,
///   pauses or resumes partitions as the buffer fills and drains, and commits what became durable;
/// - the **writer loop** writes the queued batches, one at a time and in order, durably
///   (`DurableWriter`: rows, dead letters and checkpoints in one transaction; database failures
///   retried on a fresh connection; rows the database refuses because of themselves dead-lettered).
///
/// An offset is committed only after its event is in the database or dead-lettered. On graceful
/// shutdown (SIGTERM) the in-flight write gets `shutdownTimeout` to finish, what is durable is
/// committed, and the worker leaves the group.
public final class Worker: Service, Sendable {
    /// Counts for tests, the demo and logs.
    public struct Statistics: Sendable, Equatable {
        public var consumed = 0
        public var persisted = 0
        public var duplicates = 0
        public var rejected = 0
        public var deadLettered = 0
        public var batches = 0
        public var commits = 0
        /// Offset commits Kafka refused (kept pending and retried).
        public var commitFailures = 0
        /// Partitions that started from `guardian_checkpoints` because their committed offset was unusable.
        public var checkpointRestores = 0
        /// Database write attempts that failed and were retried.
        public var writeRetries = 0
        /// Messages not read again because the checkpoint showed them durable already.
        public var skippedDurable = 0
        /// Batches given up while being retried because their partitions moved to another owner.
        public var droppedBatches = 0
    }

    public let configuration: WorkerConfiguration
    private let logger: Logger
    private let hooks: WorkerTestHooks
    private let machine: Mutex<PipelineStateMachine>
    private let stats = Mutex(Statistics())
    private let healthState = Mutex(WorkerHealth())
    private let stopRequested = Atomic<Bool>(false)
    /// Set once the shutdown deadline passed: the in-flight write is abandoned.
    private let abandonWrites = Atomic<Bool>(false)
    private let metrics = WorkerMetrics()
    /// The batch being written, visible to the rebalance callback.
    private let currentWrite = Mutex<InFlightWrite?>(nil)
    /// Start offsets chosen from the checkpoints for the assignment under way (consumer thread only).
    private let checkpointStarts = Mutex<[TopicPartition: Int64]>([:])
    /// The checkpoint epoch of each owned partition as read when it was assigned: this worker's writes
    /// move a checkpoint only while `offsets reset` has not lowered it since.
    private let checkpointEpochs = Mutex<[TopicPartition: Int64]>([:])
    /// Reads the records before checkpoints from the log (made on the first assignment that needs it).
    private let recordReader = Mutex<KafkaPartitionReader?>(nil)

    public convenience init(configuration: WorkerConfiguration, logger: Logger) {
        self.init(configuration: configuration, logger: logger, testHooks: WorkerTestHooks())
    }

    @_spi(Testing) public init(configuration: WorkerConfiguration, logger: Logger, testHooks: WorkerTestHooks) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        self.logger = logger
        self.hooks = testHooks
        self.machine = Mutex(PipelineStateMachine(maxBufferedBytes: configuration.maxBufferedBytes,
                                                  maxEventsPerWrite: configuration.batch.maxEvents))
    }

    /// What this worker has done so far.
    public var statistics: Statistics { stats.withLock { $0 } }

    /// The partitions this worker owns now.
    public var ownedPartitions: [TopicPartition] { machine.withLock { $0.tracker.owned } }

    /// Each component's state, as `/readyz` reports it.
    public var health: WorkerHealth { healthState.withLock { $0 } }

    /// Asks the worker to stop (as a graceful shutdown would).
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    private var shouldStop: Bool { stopRequested.load(ordering: .relaxed) || Task.isShuttingDownGracefully || Task.isCancelled }

    public func run() async throws {
        let c = configuration
        logger.info("worker starting", metadata: [
            "topic": "\(c.topic)", "group": "\(c.group)", "kafka": "\(c.kafka.bootstrapServers)",
            "postgres": "\(c.postgres.redactedURI)", "redis": "\(c.redis.address)", "dead_letter_topic": "\(c.deadLetterTopic)",
            "batch": "\(c.batch.maxEvents) events / \(c.batch.maxAge)", "buffer_max_bytes": "\(c.maxBufferedBytes)",
        ])
        for component in ["kafka", "database", "redis"] { metrics.componentUp(component).record(0) }
        metrics.cacheStale.record(1)
        let decoder = BatchDecoder(maxEventBytes: c.maxEventBytes)
        guard decoder.isUsable else {
            throw WorkerError(.startup, "the JSON decoder could not allocate its buffers (out of memory); not consuming")
        }
        let deadLetters = try DeadLetterPublisher(configuration: c.kafka, topic: c.deadLetterTopic)
        let writer = DurableWriter(
            configuration: c, logger: logger, deadLetters: deadLetters,
            committedOffsets: { [self] in
                Dictionary(machine.withLock { $0.tracker.committedOffsets }.compactMap { o in o.offset.map { (o.topicPartition, $0) } },
                           uniquingKeysWith: { $1 })
            },
            epochs: { [self] in checkpointEpochs.withLock { $0 } },
            isOwned: { [self] in machine.withLock { $0.writingIsOwned } }
        ) { [self] up, error in
            if !up {
                metrics.dbFailures.increment()
                stats.withLock { $0.writeRetries += 1 }
            }
            setComponent(\.database, "database", up: up, error: error)
        }
        let cache = CacheLink(
            configuration: c.redis, logger: logger,
            latestRows: { [postgres = c.postgres] in try await LatestState.read(try await PostgresConnection.connect(postgres)) },
            onChange: { [self] connected, stale, error in
                setComponent(\.redis, "redis", up: connected, error: connected ? nil : (error ?? "unreachable or re-syncing"))
                healthState.withLock { $0.cacheStale = stale }
                metrics.cacheStale.record(stale ? 1 : 0)
            })
        cache.start()

        _ = reader()  // connected before the first assignment needs it
        let consumer = try KafkaConsumer(
            configuration: c.kafka, groupID: c.group,
            startOffsets: { [self] partitions in self.startOffsets(partitions) },
            onRebalance: { [self] event in self.rebalanced(event) })
        try await consumer.subscribe(topics: [c.topic])

        let lag = Task { await self.monitorLag(consumer) }
        let maintenance = Task { await self.maintainPartitions() }
        defer {
            lag.cancel()
            maintenance.cancel()
        }
        let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let writerTask = Task { await self.runWriter(writer, cache: cache, wakes: wakes) }
        let cacheTask = Task { [metrics] in await cache.run { metrics.redisWrite.recordNanoseconds(Int64($0.wholeNanoseconds)) } }
        defer { cacheTask.cancel() }
        var lastCommit = ContinuousClock.now

        while !shouldStop {
            let pollStart = ContinuousClock.now
            let polled = try await consumer.poll(maxMessages: c.batch.maxEvents, timeout: c.batch.maxAge)
            metrics.poll.recordNanoseconds(Int64((ContinuousClock.now - pollStart).wholeNanoseconds))
            noteConsumerErrors(polled)
            if !polled.messages.isEmpty {
                setComponent(\.kafka, "kafka", up: true, error: nil)
                let decoded = decoder.decode(polled.messages)
                let bytes = polled.messages.reduce(0) { $0 + $1.value.count + ($1.key?.count ?? 0) }
                let owned = machine.withLock { m in m.polled(decoded, bytes: bytes) ? decoded.filtered(m.owns) : nil }
                if let owned {
                    wake.yield()
                    record(consumed: owned)
                    cache.enqueue(owned.events.map(\.event))
                }
            }
            // Commits at most every `commitInterval` (each is a round trip on the consumer's thread).
            let commitNow = ContinuousClock.now - lastCommit >= c.commitInterval
            if commitNow { lastCommit = .now }
            await apply(machine.withLock { $0.flowControl(includeCommits: commitNow) }, consumer)
        }

        // Shutdown: nothing new is written; the in-flight write gets `shutdownTimeout`.
        let dropped = machine.withLock { $0.stop() }
        wake.finish()
        if dropped > 0 { logger.info("stopping: \(dropped) buffered events not written; the next owner reads them again") }
        if !(await finishes(writerTask, within: c.shutdownTimeout)) {
            abandonWrites.store(true, ordering: .relaxed)
            logger.warning("the in-flight write did not finish within \(c.shutdownTimeout); abandoning it (not committed, redelivered later)")
            _ = await finishes(writerTask, within: .seconds(2))
        }
        // A rebalance under way (another member leaving too) can refuse a commit for a moment.
        for attempt in 1...3 {
            await apply(machine.withLock { $0.flowControl() }.filter { if case .commit = $0 { true } else { false } }, consumer)
            if machine.withLock({ $0.tracker.pendingCommits().isEmpty }) { break }
            if attempt < 3 { try? await Task.sleep(for: .milliseconds(300)) }
        }
        if !machine.withLock({ $0.tracker.pendingCommits().isEmpty }) {
            logger.warning("stopping with uncommitted offsets; their events are durable and will be redelivered and absorbed")
        }
        logger.info("worker stopping: leaving the group", metadata: ["statistics": "\(statistics)"])
        // Leaving the group needs a broker; when none answers, give up after a bound (the group then
        // reassigns the partitions after the session timeout; every committed offset is durable).
        let close = Task { (try? await consumer.close()) != nil }
        if !(await finishes(close, within: .seconds(10))) {
            logger.warning("could not leave the consumer group within 10 s (brokers unreachable?); exiting anyway")
        }
    }

    /// Waits for `task` up to `timeout`; true when it finished. Not a task group: a group waits for all
    /// of its children, and awaiting `task.value` ignores cancellation, so a write blocked in the
    /// database (or a close with no broker) held SIGTERM's shutdown deadline open for as long as it hung.
    private func finishes<T: Sendable>(_ task: Task<T, Never>, within timeout: Duration) async -> Bool {
        let done = DoneFlag()
        Task { _ = await task.value; done.isSet.store(true, ordering: .releasing) }  // ends with `task`; nothing waits for it
        let deadline = ContinuousClock.now + timeout
        while !done.isSet.load(ordering: .acquiring) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return done.isSet.load(ordering: .acquiring)
    }

    // MARK: the writer loop

    private func runWriter(_ writer: DurableWriter, cache: CacheLink, wakes: AsyncStream<Void>) async {
        var durableWrites = 0
        for await _ in wakes {
            while let batch = machine.withLock({ $0.nextWrite() }) {
                let write = InFlightWrite(batch: batch)
                currentWrite.withLock { $0 = write }
                let start = ContinuousClock.now
                let result = await writer.write(write) { [self] in abandonWrites.load(ordering: .relaxed) }
                let outcome: DurableWriter.Outcome?
                switch result {
                case .durable(let o): outcome = o
                case .stopped, .dropped: outcome = nil
                }
                if case .dropped = result {
                    stats.withLock { $0.droppedBatches += 1 }
                    logger.notice("dropped a batch whose partitions this worker no longer owns (their next owner reads them again)",
                                  metadata: ["events": "\(batch.decoded.messageCount)"])
                }
                if let outcome {
                    metrics.dbWrite.recordNanoseconds(Int64((ContinuousClock.now - start).wholeNanoseconds))
                    record(written: outcome, batch: batch.decoded)
                    cache.durable(batch.decoded.events.map(\.event))
                    durableWrites += 1
                    if let crashAfter = hooks.crashAfterDatabaseCommits, durableWrites >= crashAfter {
                        logger.critical("test hook: crashing after a database commit, before the offset commit")
                        kill(getpid(), SIGKILL)
                    }
                }
                let buffered = machine.withLock { m in
                    m.writeFinished(durable: outcome != nil)
                    return m.bufferedBytes
                }
                write.finish(durable: outcome != nil)
                currentWrite.withLock { if $0 === write { $0 = nil } }
                metrics.bufferedBytes.record(buffered)
                healthState.withLock { $0.bufferedBytes = buffered }
                if case .stopped = result { return }
            }
        }
    }

    // MARK: consumer-side actions

    private func apply(_ actions: [PipelineStateMachine.Action], _ consumer: KafkaConsumer) async {
        for action in actions {
            switch action {
            case .pause(let tps):
                do {
                    try await consumer.pause(tps)
                    logger.warning("buffer full: partitions paused until the database catches up", metadata: [
                        "partitions": "\(tps.count)", "buffered_bytes": "\(machine.withLock { $0.bufferedBytes })"])
                } catch {
                    logger.error("could not pause partitions", metadata: ["error": "\(error)"])
                }
            case .resume(let tps):
                do {
                    try await consumer.resume(tps)
                    logger.notice("buffer drained: partitions resumed", metadata: ["partitions": "\(tps.count)"])
                } catch {
                    logger.error("could not resume partitions", metadata: ["error": "\(error)"])
                }
            case .commit(let offsets):
                do {
                    let start = ContinuousClock.now
                    try await consumer.commit(offsets)
                    metrics.commit.recordNanoseconds(Int64((ContinuousClock.now - start).wholeNanoseconds))
                    machine.withLock { $0.committed(offsets) }
                    stats.withLock { $0.commits += 1 }
                    for o in offsets { metrics.committedOffset(o.topicPartition).record(o.offset ?? 0) }
                } catch {
                    // Kept pending: retried on the next round. A lost partition drops out of the tracker.
                    metrics.commitFailures.increment()
                    stats.withLock { $0.commitFailures += 1 }
                    logger.warning("offset commit failed; will retry", metadata: ["error": "\(error)"])
                }
            }
        }
        let (paused, owned) = machine.withLock { ($0.paused.count, $0.tracker.owned) }
        metrics.pausedPartitions.record(paused)
        healthState.withLock {
            $0.pausedPartitions = paused
            $0.ownedPartitions = owned.count
            $0.partitions = owned.map(\.partition).sorted()
        }
    }

    private func noteConsumerErrors(_ polled: KafkaBatch) {
        for e in polled.errors {
            logger.warning("consumer error", metadata: ["error": "\(e.error)", "partition": "\(e.topicPartition?.description ?? "-")"])
            if e.error.kind == .transport { setComponent(\.kafka, "kafka", up: false, error: e.error.message) }
        }
    }

    private func setComponent(_ path: WritableKeyPath<WorkerHealth, WorkerHealth.Component>, _ name: String, up: Bool, error: String?) {
        let changed = healthState.withLock { h -> Bool in
            let was = h[keyPath: path].up
            h[keyPath: path] = WorkerHealth.Component(up: up, error: up ? nil : error)
            return was != up
        }
        if changed { metrics.componentUp(name).record(up ? 1 : 0) }
    }

    private func record(consumed batch: DecodedBatch) {
        metrics.consumed.increment(by: batch.messageCount)
        stats.withLock { s in
            s.consumed += batch.messageCount
            s.rejected += batch.rejected.count
        }
        for r in batch.rejected {
            metrics.rejected(r.rejection.reason.rawValue).increment()
            logger.warning("invalid event: dead-lettering it", metadata: [
                "partition": "\(r.topicPartition)", "offset": "\(r.offset)", "reason": "\(r.rejection)",
            ])
        }
    }

    private func record(written outcome: DurableWriter.Outcome, batch: DecodedBatch) {
        metrics.persisted.increment(by: outcome.inserted)
        metrics.duplicates.increment(by: outcome.duplicates)
        metrics.batches.increment()
        metrics.batchSize.record(batch.messageCount)
        for d in outcome.deadLetters {
            metrics.deadLetters(d.reason).increment()
            if d.reason == EventRejection.Reason.databaseRefused.rawValue {
                logger.warning("the database refused an event: dead-lettered", metadata: [
                    "partition": "\(d.partition)", "offset": "\(d.offset)", "error": "\(d.errorCode): \(d.errorMessage)"])
            }
        }
        stats.withLock { s in
            s.persisted += outcome.inserted
            s.duplicates += outcome.duplicates
            s.deadLettered += outcome.deadLetters.count
            s.batches += 1
        }
        let now = WallClock.nowNanoseconds()
        for s in batch.events { metrics.endToEnd.recordNanoseconds(max(0, now - s.event.ts)) }
    }

    // MARK: rebalances (on the consumer thread, inside a poll)

    /// Keeps the state machine in step with ownership and hands over what must be committed before
    /// revoked partitions move.
    private func rebalanced(_ event: RebalanceEvent) -> [TopicPartitionOffset] {
        switch event {
        case .assigned(let tps):
            let starts = checkpointStarts.withLock { s in defer { s.removeAll() }; return s }
            let owned = machine.withLock { m in m.assigned(tps, durableUpTo: starts); return m.tracker.owned.count }
            metrics.ownedPartitions.record(owned)
            logger.info("partitions assigned", metadata: ["partitions": "\(tps.map(\.description))", "owned": "\(owned)"])
            return []
        case .revoked(let tps):
            // Finish the in-flight batch first when it holds revoked partitions, so what it makes durable
            // is committed before the partitions move — unless the database is failing (waiting would
            // hold up the whole group), or shutdown has abandoned it (its deadline passed); its events are
            // then redelivered to the next owner, idempotently.
            if let write = currentWrite.withLock({ $0 }), !write.isFailing, !abandonWrites.load(ordering: .relaxed),
               !Set(tps).isDisjoint(with: write.batch.decoded.nextOffsets.keys) {
                _ = write.wait(timeout: .seconds(30))
            }
            let (pending, owned) = machine.withLock { m in (m.revoked(tps), m.tracker.owned.count) }
            metrics.ownedPartitions.record(owned)
            logger.info("partitions revoked; committing what is durable", metadata: [
                "partitions": "\(tps.map(\.description))", "committing": "\(pending.map(\.description))",
            ])
            return pending
        case .lost(let tps):
            let owned = machine.withLock { m in m.lost(tps); return m.tracker.owned.count }
            metrics.ownedPartitions.record(owned)
            logger.warning("partitions lost; nothing committed for them", metadata: ["partitions": "\(tps.map(\.description))"])
            return []
        }
    }

    /// Where newly assigned partitions start (see `StartOffsetRule`): the database's checkpoint when
    /// the committed offset is unusable, or behind what is already durable. Blocks the consumer thread
    /// for the database read (bounded: a database that does not answer leaves the committed offsets).
    private func startOffsets(_ partitions: [AssignedPartition]) -> [TopicPartitionOffset] {
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
        for d in decisions {
            metrics.checkpointRestores(d.reason.rawValue).increment()
            let committed = partitions.first { $0.topicPartition == d.topicPartition }?.committed
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
        stats.withLock { s in
            // Only partitions that really resumed from a checkpoint (not from the oldest offset, for want of one).
            s.checkpointRestores += decisions.filter { $0.reason.isAlert && $0.reason.resumesAtCheckpoint && $0.checkpoint != nil }.count
            for d in decisions where !d.reason.isAlert {
                s.skippedDurable += Int(d.offset - (partitions.first { $0.topicPartition == d.topicPartition }?.committed ?? d.offset))
            }
        }
        checkpointStarts.withLock { s in for d in decisions { s[d.topicPartition] = d.offset } }
        return decisions.map { TopicPartitionOffset($0.topicPartition, offset: $0.offset) }
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

    // MARK: background tasks

    /// Lag per owned partition from the watermarks the consumer's fetches bring back (cached by
    /// librdkafka): no request, nothing on the consumer thread. Only while Kafka is marked down does it
    /// ask a broker (on the consumer thread: then nothing is flowing anyway), to see it come back while idle.
    private func monitorLag(_ consumer: KafkaConsumer) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.lagInterval)
            let committed = machine.withLock { $0.tracker.committedOffsets }
            if !health.kafka.up, let c = committed.first,
               (try? await consumer.watermarks(topic: c.topic, partition: c.partition, timeout: .seconds(2))) != nil {
                setComponent(\.kafka, "kafka", up: true, error: nil)
            }
            for c in committed {
                guard let w = consumer.cachedWatermarks(topic: c.topic, partition: c.partition) else { continue }
                metrics.lag(c.topicPartition).record(max(0, w.high - (c.offset ?? w.low)))
            }
        }
    }

    /// Plain PostgreSQL only: keeps partitions ahead of time and drops expired ones. A failed round
    /// (database down) is retried on a fresh connection a minute later, never given up.
    private func maintainPartitions() async {
        var maintainer: PartitionMaintainer?
        while !Task.isCancelled {
            do {
                if maintainer == nil {
                    maintainer = PartitionMaintainer(connection: try await PostgresConnection.connect(configuration.postgres),
                                                     settings: configuration.storage)
                }
                guard let round = try await maintainer?.runOnce() else { return }  // TimescaleDB does it
                if round.created > 0 || round.dropped > 0 {
                    logger.info("partitions maintained", metadata: ["created": "\(round.created)", "dropped": "\(round.dropped)"])
                }
                try? await Task.sleep(for: configuration.maintenanceInterval)
            } catch {
                maintainer = nil
                logger.warning("partition maintenance failed; retrying in a minute", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: min(configuration.maintenanceInterval, .seconds(60)))
            }
        }
    }
}

/// Set once by whoever finishes; read by a waiter that polls it.
private final class DoneFlag: Sendable {
    let isSet = Atomic<Bool>(false)
}

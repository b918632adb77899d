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

/// One worker process's pipeline, as a ServiceLifecycle service. It wires small parts around one
/// pure state machine (`PipelineStateMachine`, in `WorkerState`), each owning its connection:
///
/// ```
/// KafkaConsumer ──poll──▶ consumer loop (here) ──queue──▶ PipelineStateMachine ──nextWrite──▶ WriteLanes
///   ▲  rebalances: PartitionAssignments    │ enqueue                                  │ DurableWriter
///   │  (StartOffsetRule + checkpoints)     ▼                                          ▼ (DurableBatchWriter)
///   └──commit / pause / resume◀── flowControl   CacheLink ──▶ Redis        PostgreSQL + dead-letter topic
///                                              LagMonitor, PartitionMaintenance, CacheStatusReporter
///                                              (one task group with the consumer loop)
/// ```
///
/// - the **consumer loop** polls (always — heartbeats and rebalances are served even while the
///   database is down), decodes, queues the batch in the state machine's bounded buffer, hands the
///   events to the cache link (Redis is applied by its own task), and every `commitInterval` applies
///   the state machine's actions: pause or resume partitions as the buffer fills and drains, commit
///   what became durable;
/// - the **write lanes** (`WriteLanes`, one `WriteLoop` per lane, `writeLanes` of them) write the queued
///   batches of their own partitions, one write at a time per lane and in order, durably (`DurableWriter`
///   around `DurableBatchWriter`: dead letters first, then rows, dead letters and checkpoints in one
///   transaction; database failures retried on a fresh connection); the lanes' writes overlap.
///
/// An offset is committed only after its event is in the database or dead-lettered. On graceful
/// shutdown (SIGTERM) the in-flight writes get `shutdownTimeout` to finish, what is durable is
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
    private let hooks: WorkerTestHooks
    private let state: WorkerState
    private let assignments: PartitionAssignments
    private let stopRequested = Atomic<Bool>(false)

    public convenience init(configuration: WorkerConfiguration, logger: Logger) {
        self.init(configuration: configuration, logger: logger, testHooks: WorkerTestHooks())
    }

    @_spi(Testing) public init(configuration: WorkerConfiguration, logger: Logger, testHooks: WorkerTestHooks) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        self.hooks = testHooks
        self.state = WorkerState(configuration: configuration, logger: logger)
        self.assignments = PartitionAssignments(configuration: configuration, state: state)
    }

    private var logger: Logger { state.logger }
    private var metrics: WorkerMetrics { state.metrics }

    /// What this worker has done so far.
    public var statistics: Statistics { state.statistics }

    /// The partitions this worker owns now.
    public var ownedPartitions: [TopicPartition] { state.machine.withLock { $0.tracker.owned } }

    /// Each component's state, as `/readyz` reports it.
    public var health: WorkerHealth { state.health }

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
        metrics.registerReasons()
        metrics.cacheStale.record(1)
        let decoder = BatchDecoder(maxEventBytes: c.maxEventBytes)
        guard decoder.isUsable else {
            throw WorkerError(.startup, "the JSON decoder could not allocate its buffers (out of memory); not consuming")
        }
        let cache = makeCacheLink()
        let deadLetters = try DeadLetterPublisher(configuration: c.kafka, topic: c.deadLetterTopic)
        let count = DurableWriteCount()
        let writes = WriteLanes((0..<c.writeLanes).map { lane in
            WriteLoop(lane: lane, state: state, writer: makeDurableWriter(lane: lane, deadLetters: deadLetters), cache: cache,
                      hooks: hooks, durableWrites: count)
        })
        assignments.prepare()
        let consumer = try KafkaConsumer(
            configuration: c.kafka, groupID: c.group,
            startOffsets: { [assignments] partitions in assignments.startOffsets(partitions) },
            onRebalance: { [assignments] event in assignments.rebalanced(event, writing: writes.currentWrites, abandoned: writes.isAbandoned) })
        try await consumer.subscribe(topics: [c.topic])

        // The background services run as one task group with the consumer loop, and end with it: their
        // database calls give up waiting when cancelled (`abandonsCallsOnCancellation`), so one stuck
        // in a database that does not answer cannot hold the shutdown open; Redis calls have 2 s bounds.
        let background = { var p = c.postgres; p.abandonsCallsOnCancellation = true; return p }()
        cache.start()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [state] in await LagMonitor(state: state, consumer: consumer, interval: c.lagInterval).run() }
            group.addTask { [logger] in
                await PartitionMaintenance(postgres: background, settings: c.storage, interval: c.maintenanceInterval, logger: logger).run()
            }
            group.addTask { [metrics] in
                await cache.run(applied: { metrics.redisWrite.recordNanoseconds(Int64($0.wholeNanoseconds)) },
                                failed: { metrics.redisFailures.increment() })
            }
            group.addTask { [logger] in
                await CacheStatusReporter(postgres: background, worker: c.workerID, cache: cache, interval: .seconds(1), logger: logger).run()
            }
            // The write lanes are awaited by `shutDown` with its deadline (a write it gives up on is
            // abandoned, not cancelled: its outcome decides what is committed).
            let writer = Task { await writes.run() }
            defer { group.cancelAll() }
            try await consume(consumer, decoder: decoder, cache: cache, writes: writes)
            await shutDown(consumer, writes: writes, writer: writer)
        }
    }

    /// The consumer loop: poll, decode, queue, hand to the cache; flow control and commits.
    private func consume(_ consumer: KafkaConsumer, decoder: BatchDecoder, cache: CacheLink, writes: WriteLanes) async throws {
        let c = configuration
        var lastCommit = ContinuousClock.now
        while !shouldStop {
            let pollStart = ContinuousClock.now
            let polled = try await consumer.poll(maxMessages: c.batch.maxEvents, timeout: c.batch.maxAge)
            metrics.poll.recordNanoseconds(Int64((ContinuousClock.now - pollStart).wholeNanoseconds))
            noteConsumerErrors(polled)
            if !polled.messages.isEmpty {
                state.setComponent(\.kafka, "kafka", up: true, error: nil)
                let decoded = decoder.decode(polled.messages)
                let bytes = polled.messages.reduce(0) { $0 + $1.value.count + ($1.key?.count ?? 0) }
                let owned = state.machine.withLock { m in m.polled(decoded, bytes: bytes) ? decoded.filtered(m.owns) : nil }
                if let owned {
                    writes.wake()
                    state.record(consumed: owned)
                    cache.enqueue(owned.events.map(\.event))
                }
            }
            // Commits at most every `commitInterval` (each is a round trip on the consumer's thread).
            let commitNow = ContinuousClock.now - lastCommit >= c.commitInterval
            if commitNow { lastCommit = .now }
            await apply(state.machine.withLock { $0.flowControl(includeCommits: commitNow) }, consumer)
        }
    }

    /// Graceful shutdown: nothing new is written; the in-flight write gets `shutdownTimeout`; what is
    /// durable is committed; the worker leaves the group.
    private func shutDown(_ consumer: KafkaConsumer, writes: WriteLanes, writer: Task<Void, Never>) async {
        let c = configuration
        let dropped = state.machine.withLock { $0.stop() }
        writes.finish()
        if dropped > 0 { logger.info("stopping: \(dropped) buffered events not written; the next owner reads them again") }
        if !(await finishes(writer, within: c.shutdownTimeout)) {
            writes.abandon()
            logger.warning("the in-flight write did not finish within \(c.shutdownTimeout); abandoning it (not committed, redelivered later)")
            _ = await finishes(writer, within: .seconds(2))
        }
        // A rebalance under way (another member leaving too) can refuse a commit for a moment.
        for attempt in 1...3 {
            await apply(state.machine.withLock { $0.flowControl() }.filter { if case .commit = $0 { true } else { false } }, consumer)
            if state.machine.withLock({ $0.tracker.pendingCommits().isEmpty }) { break }
            if attempt < 3 { try? await Task.sleep(for: .milliseconds(300)) }
        }
        if !state.machine.withLock({ $0.tracker.pendingCommits().isEmpty }) {
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

    // MARK: wiring

    private func makeDurableWriter(lane: Int, deadLetters: DeadLetterPublisher) -> DurableWriter {
        let c = configuration
        return DurableWriter(
            configuration: c, logger: logger, deadLetters: deadLetters,
            committedOffsets: { [state] in
                Dictionary(state.machine.withLock { $0.tracker.committedOffsets }.compactMap { o in o.offset.map { (o.topicPartition, $0) } },
                           uniquingKeysWith: { $1 })
            },
            epochs: { [assignments] in assignments.epochs },
            isOwned: { [state] in state.machine.withLock { $0.writingIsOwned(lane: lane) } }
        ) { [state] up, error in
            if !up {
                state.metrics.dbFailures.increment()
                state.count { $0.writeRetries += 1 }
            }
            state.setComponent(\.database, "database", up: up, error: error)
        }
    }

    private func makeCacheLink() -> CacheLink {
        CacheLink(
            configuration: configuration.redis, logger: logger,
            latestRows: { [postgres = configuration.postgres] in
                var p = postgres
                p.abandonsCallsOnCancellation = true  // read inside the cache link's task, which shutdown cancels
                return try await LatestState.read(try await PostgresConnection.connect(p))
            },
            onChange: { [state] connected, stale, error in
                state.setComponent(\.redis, "redis", up: connected, error: connected ? nil : (error ?? "unreachable or re-syncing"))
                state.updateHealth { $0.cacheStale = stale }
                state.metrics.cacheStale.record(stale ? 1 : 0)
            })
    }

    // MARK: consumer-side actions

    private func apply(_ actions: [PipelineStateMachine.Action], _ consumer: KafkaConsumer) async {
        for action in actions {
            switch action {
            case .pause(let tps):
                do {
                    try await consumer.pause(tps)
                    logger.warning("buffer full: partitions paused until the database catches up", metadata: [
                        "partitions": "\(tps.count)", "buffered_bytes": "\(state.machine.withLock { $0.bufferedBytes })"])
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
                    state.machine.withLock { $0.committed(offsets) }
                    state.count { $0.commits += 1 }
                    for o in offsets { metrics.committedOffset(o.topicPartition).record(o.offset ?? 0) }
                } catch {
                    // Kept pending: retried on the next round. A lost partition drops out of the tracker.
                    metrics.commitFailures.increment()
                    state.count { $0.commitFailures += 1 }
                    logger.warning("offset commit failed; will retry", metadata: ["error": "\(error)"])
                }
            }
        }
        state.publishOwnership()
    }

    private func noteConsumerErrors(_ polled: KafkaBatch) {
        for e in polled.errors {
            logger.warning("consumer error", metadata: ["error": "\(e.error)", "partition": "\(e.topicPartition?.description ?? "-")"])
            if e.error.kind == .transport { state.setComponent(\.kafka, "kafka", up: false, error: e.error.message) }
        }
    }
}

/// Set once by whoever finishes; read by a waiter that polls it.
private final class DoneFlag: Sendable {
    let isSet = Atomic<Bool>(false)
}

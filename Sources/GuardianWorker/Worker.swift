#if canImport(Glibc)
import Glibc
#endif
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

/// One worker process's pipeline, as a ServiceLifecycle service:
///
/// poll a batch (count/age) → decode and validate → write durably to TimescaleDB (one transaction,
/// idempotent) → update the Redis state cache (best effort) → commit, per partition, the offset after
/// the last durable message.
///
/// An offset is committed only after its event is in the database (or, for an invalid message, after
/// it was counted and logged). On graceful shutdown (SIGTERM) the current batch finishes, its offsets
/// are committed and the worker leaves the group.
public final class Worker: Service, Sendable {
    /// Counts for tests, the demo and logs.
    public struct Statistics: Sendable, Equatable {
        public var consumed = 0
        public var persisted = 0
        public var duplicates = 0
        public var rejected = 0
        public var batches = 0
        public var commits = 0
    }

    public let configuration: WorkerConfiguration
    private let logger: Logger
    private let tracker = Mutex(CommitTracker())
    private let stats = Mutex(Statistics())
    private let stopRequested = Atomic<Bool>(false)
    private let metrics = WorkerMetrics()
    /// The batch being written, visible to the rebalance callback.
    private let currentWrite = Mutex<InFlightWrite?>(nil)

    public init(configuration: WorkerConfiguration, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "worker"] = "\(configuration.workerID)"
        self.logger = logger
    }

    /// What this worker has done so far.
    public var statistics: Statistics { stats.withLock { $0 } }

    /// The partitions this worker owns now.
    public var ownedPartitions: [TopicPartition] { tracker.withLock { $0.owned } }

    /// Asks the worker to stop after its current batch (as a graceful shutdown would).
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    private var shouldStop: Bool { stopRequested.load(ordering: .relaxed) || Task.isShuttingDownGracefully || Task.isCancelled }

    public func run() async throws {
        let c = configuration
        logger.info("worker starting", metadata: [
            "topic": "\(c.topic)", "group": "\(c.group)", "kafka": "\(c.kafka.bootstrapServers)",
            "postgres": "\(c.postgres.redactedURI)", "redis": "\(c.redis.address)",
            "batch": "\(c.batch.maxEvents) events / \(c.batch.maxAge)",
        ])
        guard let db = try await connectDatabase() else { return }
        var writer = EventTableWriter(connection: db)
        let cache = CacheLink(configuration: c.redis, logger: logger)
        _ = cache.current()  // start connecting

        let consumer = try KafkaConsumer(configuration: c.kafka, groupID: c.group) { [self] event in
            self.rebalanced(event)
        }
        try await consumer.subscribe(topics: [c.topic])

        let lag = Task { await self.monitorLag(consumer) }
        let maintenance = Task { await self.maintainPartitions() }
        defer {
            lag.cancel()
            maintenance.cancel()
        }

        // Two stages overlap: while batch N is being written, batch N+1 is polled and decoded. Batch N's
        // cache update and offset commit follow its durable write, so only durable offsets are committed.
        let decoder = BatchDecoder()
        var databaseCommits = 0
        var inFlight: (write: InFlightWrite, task: Task<EventTableWriter, Error>)?
        while !shouldStop {
            let pollStart = ContinuousClock.now
            let polled = try await consumer.poll(maxMessages: c.batch.maxEvents, timeout: c.batch.maxAge)
            metrics.poll.recordNanoseconds(Int64((ContinuousClock.now - pollStart).wholeNanoseconds))
            for e in polled.errors {
                logger.warning("consumer error", metadata: ["error": "\(e.error)", "partition": "\(e.topicPartition?.description ?? "-")"])
            }
            let messages = tracker.withLock { t in polled.messages.filter { t.owns($0.topicPartition) } }
            let decoded = decoder.decode(messages)
            let payload = decoded.events.isEmpty ? [] : EventTableWriter.copyPayload(decoded.events, ingestedAtNanos: WallClock.nowNanoseconds())

            // Batch N's write must be done before N+1's starts (one connection, in order). As soon as it is,
            // its offsets become committable and N+1's write starts; N's cache update and commit then run
            // while N+1 is being written.
            var finished: InFlightWrite?
            if let previous = inFlight {
                inFlight = nil
                writer = try await previous.task.value
                guard previous.write.isDurable else { break }  // stopping while the database was down
                databaseCommits += 1
                if let crashAfter = c.crashAfterDatabaseCommits, databaseCommits >= crashAfter {
                    logger.critical("test hook: crashing after a database commit, before the offset commit")
                    kill(getpid(), SIGKILL)
                }
                markDurable(previous.write)
                finished = previous.write
            }
            if !messages.isEmpty {
                metrics.consumed.increment(by: messages.count)
                for r in decoded.rejected {
                    metrics.rejected(r.rejection.reason.rawValue).increment()
                    logger.warning("invalid event skipped", metadata: [
                        "partition": "\(r.topicPartition)", "offset": "\(r.offset)", "reason": "\(r.rejection)",
                    ])
                }
                let write = InFlightWrite(batch: decoded)
                currentWrite.withLock { $0 = write }
                let currentWriter = writer
                inFlight = (write, Task { try await self.writeDurably(currentWriter, write: write, payload: payload) })
            }
            if let finished {
                await finish(finished, cache: cache, consumer: consumer)
            } else {
                await commitPending(consumer)
            }
        }
        if let previous = inFlight {
            writer = try await previous.task.value
            if previous.write.isDurable {
                markDurable(previous.write)
                await finish(previous.write, cache: cache, consumer: consumer)
            }
        }

        // A rebalance under way (another member leaving too) can refuse a commit for a moment.
        for attempt in 1...3 {
            await commitPending(consumer)
            if tracker.withLock({ $0.pendingCommits().isEmpty }) { break }
            if attempt < 3 { try? await Task.sleep(for: .milliseconds(300)) }
        }
        if !tracker.withLock({ $0.pendingCommits().isEmpty }) {
            logger.warning("stopping with uncommitted offsets; their events are durable and will be redelivered and absorbed")
        }
        logger.info("worker stopping: leaving the group", metadata: ["statistics": "\(statistics)"])
        // Leaving the group needs a broker; when none answers, give up after a bound (the group then
        // reassigns the partitions after the session timeout; every committed offset is durable).
        let closed = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await consumer.close()) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !closed { logger.warning("could not leave the consumer group within 10 s (brokers unreachable?); exiting anyway") }
    }

    /// Runs on the consumer thread, inside a poll: keeps the tracker in step with ownership and hands
    /// over what must be committed before revoked partitions move.
    private func rebalanced(_ event: RebalanceEvent) -> [TopicPartitionOffset] {
        switch event {
        case .assigned(let tps):
            let owned = tracker.withLock { t in t.assign(tps); return t.owned.count }
            metrics.ownedPartitions.record(owned)
            logger.info("partitions assigned", metadata: ["partitions": "\(tps.map(\.description))", "owned": "\(owned)"])
            return []
        case .revoked(let tps):
            // Finish the in-flight batch first when it holds revoked partitions, so what it makes durable
            // is committed before the partitions move (bounded wait; otherwise it is redelivered, idempotently).
            if let write = currentWrite.withLock({ $0 }), !Set(tps).isDisjoint(with: write.batch.nextOffsets.keys),
               write.wait(timeout: .seconds(30)) == true {
                tracker.withLock { t in for (tp, next) in write.batch.nextOffsets { t.markDurable(tp, nextOffset: next) } }
            }
            let (pending, owned) = tracker.withLock { t in (t.revoke(tps), t.owned.count) }
            metrics.ownedPartitions.record(owned)
            logger.info("partitions revoked; committing what is durable", metadata: [
                "partitions": "\(tps.map(\.description))", "committing": "\(pending.map(\.description))",
            ])
            return pending
        case .lost(let tps):
            let owned = tracker.withLock { t in t.lose(tps); return t.owned.count }
            metrics.ownedPartitions.record(owned)
            logger.warning("partitions lost; nothing committed for them", metadata: ["partitions": "\(tps.map(\.description))"])
            return []
        }
    }

    /// Opens the database connection, retrying with backoff until it answers or the worker stops.
    private func connectDatabase() async throws -> PostgresConnection? {
        var delay = Duration.milliseconds(200)
        while !shouldStop {
            do {
                return try await PostgresConnection.connect(configuration.postgres)
            } catch let error as PostgresError where error.kind == .connect {
                logger.error("TimescaleDB unreachable; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        return nil
    }

    /// Writes the batch, reconnecting and retrying on connection failures until it is durable, then
    /// marks `write` finished (durable, or not when the worker stopped first). Returns the writer to use next.
    private func writeDurably(_ writer: EventTableWriter, write: InFlightWrite, payload: [UInt8]) async throws -> EventTableWriter {
        var writer = writer
        var delay = Duration.milliseconds(100)
        let checkpoints = write.batch.nextOffsets.map { (topic: $0.key.topic, partition: $0.key.partition, nextOffset: $0.value) }
        while true {
            do {
                let start = ContinuousClock.now
                let result = try await writer.write(payload: payload, count: write.batch.events.count, checkpoints: checkpoints)
                metrics.dbWrite.recordNanoseconds(Int64((ContinuousClock.now - start).wholeNanoseconds))
                metrics.persisted.increment(by: result.inserted)
                metrics.duplicates.increment(by: result.staged - result.inserted)
                stats.withLock { $0.persisted += result.inserted; $0.duplicates += result.staged - result.inserted }
                write.finish(durable: true)
                return writer
            } catch let error as PostgresError where error.isConnectionFailure {
                metrics.dbFailures.increment()
                logger.error("TimescaleDB write failed; retrying the batch (nothing committed)",
                             metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
                if shouldStop {
                    write.finish(durable: false)
                    return writer
                }
                if let fresh = try? await PostgresConnection.connect(configuration.postgres) { writer = EventTableWriter(connection: fresh) }
            } catch {
                write.finish(durable: false)
                throw error
            }
        }
    }

    /// The batch is in the database: its offsets may be committed.
    private func markDurable(_ write: InFlightWrite) {
        currentWrite.withLock { if $0 === write { $0 = nil } }
        tracker.withLock { t in
            for (tp, next) in write.batch.nextOffsets { t.markDurable(tp, nextOffset: next) }
        }
    }

    /// After a batch is durable (and marked so): statistics, the cache update, the offset commit.
    private func finish(_ write: InFlightWrite, cache: CacheLink, consumer: KafkaConsumer) async {
        let batch = write.batch
        stats.withLock { s in
            s.consumed += batch.messageCount
            s.rejected += batch.rejected.count
            s.batches += 1
        }
        metrics.batches.increment()
        metrics.batchSize.record(batch.messageCount)
        await updateCache(cache, batch.events)
        await commitPending(consumer)
        let now = WallClock.nowNanoseconds()
        for s in batch.events { metrics.endToEnd.recordNanoseconds(max(0, now - s.event.ts)) }
    }

    private func updateCache(_ cache: CacheLink, _ events: [StoredEvent]) async {
        guard !events.isEmpty else { return }
        guard let state = cache.current() else {
            metrics.cacheStale.record(1)
            return
        }
        let start = ContinuousClock.now
        do {
            try await state.apply(events.lazy.map(\.event))
            metrics.redisWrite.recordNanoseconds(Int64((ContinuousClock.now - start).wholeNanoseconds))
            if cache.succeeded() {
                logger.notice("Redis is back; the cache missed updates while it was away")
            }
            metrics.cacheStale.record(0)
        } catch {
            metrics.redisFailures.increment()
            metrics.cacheStale.record(1)
            cache.failed(error)
        }
    }

    private func commitPending(_ consumer: KafkaConsumer) async {
        let pending = tracker.withLock { $0.pendingCommits() }
        guard !pending.isEmpty else { return }
        do {
            let start = ContinuousClock.now
            try await consumer.commit(pending)
            metrics.commit.recordNanoseconds(Int64((ContinuousClock.now - start).wholeNanoseconds))
            tracker.withLock { $0.markCommitted(pending) }
            stats.withLock { $0.commits += 1 }
            for o in pending { metrics.committedOffset(o.topicPartition).record(o.offset ?? 0) }
        } catch {
            // Kept pending: retried after the next batch. A lost partition drops out of the tracker.
            metrics.commitFailures.increment()
            logger.warning("offset commit failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    private func monitorLag(_ consumer: KafkaConsumer) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.lagInterval)
            let committed = tracker.withLock { $0.committedOffsets }
            for c in committed {
                guard let w = try? await consumer.watermarks(topic: c.topic, partition: c.partition, timeout: .seconds(2)) else { continue }
                metrics.lag(c.topicPartition).record(max(0, w.high - (c.offset ?? w.low)))
            }
        }
    }

    private func maintainPartitions() async {
        guard let db = try? await PostgresConnection.connect(configuration.postgres) else { return }
        let maintainer = PartitionMaintainer(connection: db, settings: configuration.storage)
        while !Task.isCancelled {
            do {
                guard let round = try await maintainer.runOnce() else { return }  // TimescaleDB does it
                if round.created > 0 || round.dropped > 0 {
                    logger.info("partitions maintained", metadata: ["created": "\(round.created)", "dropped": "\(round.dropped)"])
                }
            } catch {
                logger.warning("partition maintenance failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.maintenanceInterval)
        }
    }
}

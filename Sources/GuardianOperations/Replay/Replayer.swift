import Foundation
import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianSupport
import GuardianWorker
import Logging
import Synchronization

/// `guardian replay`: re-consumes the messages of a time range with its own consumer group and writes
/// them through the worker's durable-write path (`DurableBatchWriter`) — the same decoder, the same
/// idempotent batch write (rows already stored are skipped by their unique key), the same dead letters
/// (delivered to the dead-letter topic before the transaction that records them, with the replay
/// group's checkpoints), the same Redis seq guard (state never moves back). It commits its own group's
/// offsets as it goes, so `guardian lag --group <replay group>` shows it.
public final class Replayer: Sendable {
    private let kafka: KafkaConfiguration
    private let postgres: PostgresConfiguration
    private let redis: RedisConfiguration?
    private let logger: Logger
    private let admin: KafkaAdmin
    private let reader: KafkaPartitionReader
    private let deadLetters: DeadLetterPublisher

    /// - Parameters:
    ///   - redis: nil to leave Redis alone.
    ///   - deadLetterTopic: where messages that cannot be stored go (the workers' one, `<topic>.dlq` by default).
    public init(
        kafka: KafkaConfiguration, postgres: PostgresConfiguration, redis: RedisConfiguration?, deadLetterTopic: String, logger: Logger
    ) throws {
        self.deadLetters = try DeadLetterPublisher(configuration: kafka, topic: deadLetterTopic)
        self.kafka = kafka
        self.postgres = postgres
        self.redis = redis
        self.logger = logger
        self.admin = try KafkaAdmin(configuration: kafka)
        self.reader = try KafkaPartitionReader(configuration: kafka)
    }

    /// Finds the offsets of the range (margin included) on every partition.
    public func plan(_ request: ReplayRequest) async throws -> ReplayPlan {
        guard request.toMs.map({ $0 >= request.fromMs }) ?? true else {
            throw OperationError(.invalidArgument, "--to is before --from")
        }
        let marginMs = Int64(request.margin.components.seconds) * 1000
        let fromMs = request.fromMs - marginMs
        let toMs = request.toMs.map { $0 + marginMs } ?? Int64.max
        let bounds = try await admin.partitionOffsets(topic: request.topic, group: nil).map {
            TimestampSearch.Bounds(topicPartition: TopicPartition(request.topic, $0.partition), low: $0.low, high: $0.high)
        }
        let search = TimestampSearch(admin: admin, reader: reader)
        let starts = try await search.offsets(atOrAfter: fromMs, bounds)
        var stops = Dictionary(uniqueKeysWithValues: bounds.map { ($0.topicPartition, $0.high) })
        if toMs != Int64.max {
            stops = try await search.offsets(atOrAfter: toMs + 1, bounds).offsets
        }
        let ranges = bounds.map { b in
            let start = starts.offsets[b.topicPartition] ?? b.high
            return ReplayPlan.Range(partition: b.topicPartition.partition, start: start, stop: max(start, stops[b.topicPartition] ?? b.high))
        }
        return ReplayPlan(topic: request.topic, ranges: ranges, fromMs: fromMs, toMs: toMs, method: starts.method)
    }

    /// Reads the plan's offsets and writes what falls in the range. `progress` is called about once a second.
    public func run(
        _ request: ReplayRequest, plan: ReplayPlan, joinTimeout: Duration = .seconds(60),
        progress: @escaping @Sendable (ReplayProgress) -> Void = { _ in }
    ) async throws -> ReplayResult {
        let started = Monotonic.nanoseconds()
        var result = ReplayResult()
        let pending = plan.ranges.filter { $0.count > 0 }
        guard !pending.isEmpty else { return result }
        let stops = Dictionary(uniqueKeysWithValues: pending.map { ($0.partition, $0.stop) })
        let starts = Dictionary(uniqueKeysWithValues: pending.map { ($0.partition, $0.start) })
        let topic = plan.topic
        // Every assigned partition starts where the plan says, whatever the group committed before.
        let consumer = try KafkaConsumer(configuration: kafka, groupID: request.group, startOffsets: { assigned in
            assigned.map { a in
                TopicPartitionOffset(a.topicPartition, offset: starts[a.topicPartition.partition] ?? a.high)
            }
        })
        var writer: DurableBatchWriter? = DurableBatchWriter(
            writer: EventTableWriter(connection: try await PostgresConnection.connect(postgres)), logger: logger)
        var cache: StateCache?
        if let redis {
            do { cache = StateCache(connection: try await RedisConnection.connect(redis)) } catch {
                result.cacheError = "\(error)"
            }
        }
        let decoder = BatchDecoder()
        var position = starts
        var finished = Set<Int32>()
        var lastProgress = Monotonic.nanoseconds()
        var firstRead: UInt64?  // the rate counts from the first message, not from joining the group
        let deadline = ContinuousClock.now + joinTimeout
        let symbols = request.symbols
        do {
            try await consumer.subscribe(topics: [topic])
            while finished.count < pending.count {
                let batch = try await consumer.poll(maxMessages: request.batchSize, timeout: .milliseconds(200))
                for e in batch.errors { logger.warning("replay: consumer error", metadata: ["error": "\(e.error)"]) }
                if batch.messages.isEmpty, position == starts, ContinuousClock.now > deadline {
                    throw OperationError(.timeout, "the replay group '\(request.group)' got no messages within \(joinTimeout) of joining (another member may hold its partitions: use a new --group)")
                }
                if firstRead == nil && !batch.messages.isEmpty { firstRead = Monotonic.nanoseconds() }
                var wanted: [KafkaMessage] = []
                var reached: [TopicPartition] = []
                for m in batch.messages where m.topic == topic {
                    guard let stop = stops[m.partition], m.offset < stop, m.offset >= (position[m.partition] ?? 0) else { continue }
                    position[m.partition] = m.offset + 1
                    if m.offset + 1 >= stop { reached.append(m.topicPartition) }
                    let ts = m.timestampMs ?? 0
                    if ts < plan.fromMs || ts > plan.toMs { result.skipped += 1; continue }
                    if let symbols, !symbols.contains(m.keyString ?? "") { result.skipped += 1; continue }
                    wanted.append(m)
                }
                if !wanted.isEmpty {
                    var decoded = decoder.decode(wanted)
                    result.invalid += decoded.rejected.count
                    if let symbols {
                        let kept = decoded.events.indices.filter { symbols.contains(decoded.events[$0].event.symbol) }
                        result.skipped += decoded.events.count - kept.count
                        (decoded.events, decoded.sources) = (kept.map { decoded.events[$0] }, kept.map { decoded.sources[$0] })
                    }
                    let events = decoded.events
                    result.eventsRead += events.count
                    try await write(decoded, group: request.group, writer: &writer, into: &result)
                    if let c = cache {
                        do { result.cacheUpdated += try await c.apply(events.map(\.event)) } catch {
                            result.cacheError = "\(error)"
                            cache = nil
                            logger.warning("replay: Redis not updated; the database is. Run `guardian cache rebuild` once Redis is back",
                                           metadata: ["error": "\(error)"])
                        }
                    }
                }
                if !reached.isEmpty {
                    try await consumer.pause(reached)
                    for tp in reached { finished.insert(tp.partition) }
                }
                let commits = position.filter { $0.value > (starts[$0.key] ?? 0) }
                    .map { TopicPartitionOffset(topic: topic, partition: $0.key, offset: $0.value) }
                if !batch.messages.isEmpty { try? await consumer.commit(commits) }
                if let firstRead, Monotonic.seconds(since: lastProgress) >= 1 {
                    lastProgress = Monotonic.nanoseconds()
                    progress(snapshot(position: position, starts: starts, total: plan.totalMessages, result: result, started: firstRead))
                }
            }
            try await consumer.close()
        } catch {
            try? await consumer.close()
            throw error
        }
        progress(snapshot(position: position, starts: starts, total: plan.totalMessages, result: result, started: firstRead ?? started))
        result.seconds = Monotonic.seconds(since: started)
        return result
    }

    private func snapshot(position: [Int32: Int64], starts: [Int32: Int64], total: Int64, result: ReplayResult, started: UInt64) -> ReplayProgress {
        let done = position.reduce(Int64(0)) { $0 + ($1.value - (starts[$1.key] ?? $1.value)) }
        return ReplayProgress(messagesDone: done, messagesTotal: total, eventsRead: result.eventsRead,
                              rowsWritten: result.rowsWritten, elapsedSeconds: Monotonic.seconds(since: started))
    }

    /// The worker's durable write of one batch (rows, dead letters delivered first, the replay group's
    /// checkpoints), retried on failures that are not about the data (a replay is re-runnable, but a
    /// transient error should not end it).
    private func write(_ batch: DecodedBatch, group: String, writer current: inout DurableBatchWriter?, into result: inout ReplayResult) async throws {
        guard batch.messageCount > 0 else { return }
        let worker = "replay:\(group)"
        let durable = DurableBatch(
            events: batch.events, deadLetters: batch.rejected.map { DeadLetter(rejected: $0, worker: worker) },
            checkpoints: batch.nextOffsets.map {
                EventTableWriter.Checkpoint(group: group, topic: $0.key.topic, partition: $0.key.partition, nextOffset: $0.value,
                                            committedOffset: nil, lastRecord: batch.lastRecords[$0.key])
            }
        ) { [sources = batch.sources] index, refusal in DeadLetter(refused: sources[index], refusal: refusal, worker: worker) }
        var delay = Duration.milliseconds(200)
        for attempt in 1...6 {
            do {
                let writer: DurableBatchWriter
                if let current { writer = current } else {
                    writer = DurableBatchWriter(writer: EventTableWriter(connection: try await PostgresConnection.connect(postgres)), logger: logger)
                    current = writer
                }
                let outcome = try await writer.write(durable) { [deadLetters] letters in try await deadLetters.publish(letters) }
                result.rowsWritten += outcome.inserted
                result.alreadyPresent += outcome.duplicates
                result.refused += outcome.deadLetters.count - durable.deadLetters.count
                result.deadLettered += outcome.deadLetters.count
                return
            } catch {
                current = nil  // a fresh connection for the next attempt
                if attempt == 6 { throw OperationError(.database, "writing replayed events failed 6 times (\(error)); run the same replay again: rows already written are skipped") }
                logger.warning("replay: write failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try await Task.sleep(for: delay)
                delay *= 2
            }
        }
    }
}

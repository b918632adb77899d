import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianStores
import GuardianSupport
import Logging
import Synchronization

/// The worker's policy around the one durable-write path (`DurableBatchWriter` in GuardianStores, which
/// `guardian replay` uses too): dead letters go to the dead-letter topic (acknowledged) before the
/// transaction that moves the checkpoint past them, retried until delivered; a database failure (or a
/// change to the database that refuses every row) retries the whole batch with capped exponential
/// backoff on a fresh connection, never dead-letters it; before each retry, a batch whose partitions
/// moved to another owner is dropped, and shutdown stops it. Used by the worker's writer task only (one
/// write at a time).
final class DurableWriter: @unchecked Sendable {
    /// What one batch's write did.
    typealias Outcome = DurableBatchWriter.Outcome

    /// How a write ended.
    enum Result: Sendable {
        /// Durable: its offsets may be committed.
        case durable(Outcome)
        /// Shutdown gave up on it: nothing of it may be committed, and the writer stops.
        case stopped
        /// Its partitions moved to another owner while it was being retried: given up (they read it
        /// again), and the writer goes on with the next batch.
        case dropped
    }

    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let deadLetterTopic: DeadLetterPublisher
    private let onDatabase: @Sendable (_ up: Bool, _ error: String?) -> Void
    /// The offsets this worker's group has committed to Kafka, as recorded with each checkpoint.
    private let committedOffsets: @Sendable () -> [TopicPartition: Int64]
    /// The checkpoint epoch of each partition as read at its assignment.
    private let epochs: @Sendable () -> [TopicPartition: Int64]
    /// Whether any partition of the batch being written is still owned in the assignment it was polled in.
    private let isOwned: @Sendable () -> Bool
    private var writer: DurableBatchWriter?

    /// A dead letter's origin: what has been delivered already.
    private struct DeliveredKey: Hashable, Sendable {
        var partition: Int32
        var offset: Int64
        init(_ d: DeadLetter) { (partition, offset) = (d.partition, d.offset) }
    }

    /// Thrown inside a write when it was given up while its dead letters were not delivered.
    private struct GaveUp: Error { var result: Result }

    init(
        configuration: WorkerConfiguration, logger: Logger, deadLetters: DeadLetterPublisher,
        committedOffsets: @escaping @Sendable () -> [TopicPartition: Int64],
        epochs: @escaping @Sendable () -> [TopicPartition: Int64],
        isOwned: @escaping @Sendable () -> Bool,
        onDatabase: @escaping @Sendable (_ up: Bool, _ error: String?) -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.deadLetterTopic = deadLetters
        self.committedOffsets = committedOffsets
        self.epochs = epochs
        self.isOwned = isOwned
        self.onDatabase = onDatabase
    }

    /// Writes `write.batch` until it is durable, `shouldStop` turns true (stopped), or none of its
    /// partitions is owned any more (dropped): a failing write is checked before each retry.
    func write(_ write: InFlightWrite, shouldStop: @Sendable () -> Bool) async -> Result {
        let batch = write.batch.decoded
        let rejected = batch.rejected.map { DeadLetter(rejected: $0, worker: configuration.workerID) }
        let committed = committedOffsets(), epochs = self.epochs()
        let checkpoints = batch.nextOffsets.map {
            EventTableWriter.Checkpoint(group: configuration.group, topic: $0.key.topic, partition: $0.key.partition,
                                        nextOffset: $0.value, committedOffset: committed[$0.key], epoch: epochs[$0.key],
                                        lastRecord: batch.lastRecords[$0.key])
        }
        let durable = DurableBatch(events: batch.events, deadLetters: rejected, checkpoints: checkpoints) { [configuration, sources = batch.sources] index, refusal in
            DeadLetter(refused: sources[index], refusal: refusal, worker: configuration.workerID)
        }
        let delivered = Mutex<Set<DeliveredKey>>([])
        var delay = Duration.milliseconds(100)
        while true {
            if shouldStop() { return .stopped }
            do {
                let w = try await connectedWriter()
                let outcome = try await w.write(durable) { [self] letters in
                    // Delivered once per batch, not once per database attempt.
                    let pending = letters.filter { !delivered.withLock { $0 }.contains(DeliveredKey($0)) }
                    if let gaveUp = await deliver(pending, shouldStop: shouldStop) { throw GaveUp(result: gaveUp) }
                    delivered.withLock { for d in pending { $0.insert(DeliveredKey(d)) } }
                }
                write.isFailing = false
                onDatabase(true, nil)
                return .durable(outcome)
            } catch let gaveUp as GaveUp {
                return gaveUp.result
            } catch {
                writer = nil  // a fresh connection next time
                write.isFailing = true
                onDatabase(false, "\(error)")
                logger.error("database write failed; retrying the batch (nothing is committed meanwhile)",
                             metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.maxRetryDelay)
                if !isOwned() { return .dropped }
            }
        }
    }

    /// Produces `letters` to the dead-letter topic until Kafka acknowledged every one, retrying with
    /// backoff; returns how the batch was given up when `shouldStop` turned true or its partitions moved
    /// first (nothing of it is committed), nil once delivered.
    private func deliver(_ letters: [DeadLetter], shouldStop: @Sendable () -> Bool) async -> Result? {
        var delay = Duration.milliseconds(100)
        while !letters.isEmpty {
            do {
                try await deadLetterTopic.publish(letters)
                return nil
            } catch {
                if shouldStop() { return .stopped }
                if !isOwned() { return .dropped }
                logger.error("dead letters not delivered to the dead-letter topic; retrying (nothing is committed meanwhile)",
                             metadata: ["topic": "\(deadLetterTopic.topic)", "error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.maxRetryDelay)
            }
        }
        return nil
    }

    private func connectedWriter() async throws -> DurableBatchWriter {
        if let writer { return writer }
        let fresh = DurableBatchWriter(writer: EventTableWriter(connection: try await PostgresConnection.connect(configuration.postgres)),
                                       logger: logger)
        writer = fresh
        return fresh
    }
}

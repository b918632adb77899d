import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianStores
import GuardianSupport
import Logging

/// Makes one batch durable: its dead letters on the dead-letter topic first (acknowledged), then its
/// rows, its dead letters and its group's checkpoints in one database transaction. The checkpoint never
/// moves past a record whose dead letter is not on the topic: a crash in between leaves the next owner
/// to read it again.
///
/// Poison vs. outage: a row the database refuses because of its data (SQLSTATE class 22 or 23 other
/// than the unique key) is found by splitting the batch, and dead-lettered while the rest is stored;
/// but when every row of a batch is refused with the same SQLSTATE and so is a copy of a stored row
/// (a NOT NULL column or a CHECK added, a partition detached), the database changed: that is an
/// outage, retried, never dead-lettered.
/// Any other failure is about the database (connection lost at any point, timeout, disk full,
/// read-only, deadlock, …): the whole batch is retried with capped exponential backoff on a fresh
/// connection, never dead-lettered. Used by the worker's writer task only (one write at a time).
final class DurableWriter: @unchecked Sendable {
    /// What one batch's write did.
    struct Outcome: Sendable {
        var inserted = 0
        var duplicates = 0
        var deadLetters: [DeadLetter] = []
    }

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
    private var writer: EventTableWriter?

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
        let now = WallClock.nowNanoseconds()
        let rejected = batch.rejected.map { r in
            DeadLetter(topic: r.topicPartition.topic, partition: r.topicPartition.partition, offset: r.offset, key: r.key, value: r.value,
                       reason: r.rejection.reason.rawValue, errorCode: r.rejection.code, errorMessage: r.rejection.message,
                       worker: configuration.workerID, timeNanos: now)
        }
        let committed = committedOffsets(), epochs = self.epochs()
        let checkpoints = batch.nextOffsets.map {
            EventTableWriter.Checkpoint(group: configuration.group, topic: $0.key.topic, partition: $0.key.partition,
                                        nextOffset: $0.value, committedOffset: committed[$0.key], epoch: epochs[$0.key],
                                        lastRecord: batch.lastRecords[$0.key])
        }
        // Dead letters known before the write are on the topic before the checkpoint moves past them.
        if let gaveUp = await deliver(rejected, shouldStop: shouldStop) { return gaveUp }
        var delay = Duration.milliseconds(100)
        while true {
            if shouldStop() { return .stopped }
            do {
                let w = try await connectedWriter()
                let outcome = try await writeRows(w, batch, checkpoints: checkpoints, deadLetters: rejected, shouldStop: shouldStop)
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

    private func connectedWriter() async throws -> EventTableWriter {
        if let writer { return writer }
        let fresh = EventTableWriter(connection: try await PostgresConnection.connect(configuration.postgres))
        writer = fresh
        return fresh
    }

    /// One attempt: the whole batch in one transaction; when the database refuses a row because of its
    /// data, the batch is split to find such rows, the others are stored, and the final transaction
    /// records the dead letters and the checkpoints.
    private func writeRows(
        _ w: EventTableWriter, _ batch: DecodedBatch,
        checkpoints: [EventTableWriter.Checkpoint], deadLetters: [DeadLetter], shouldStop: @Sendable () -> Bool
    ) async throws -> Outcome {
        let ingested = WallClock.nowNanoseconds()
        do {
            let r = try await w.write(payload: EventTableWriter.copyPayload(batch.events, ingestedAtNanos: ingested),
                                      count: batch.events.count, checkpoints: checkpoints, deadLetters: deadLetters)
            return Outcome(inserted: r.inserted, duplicates: r.staged - r.inserted, deadLetters: deadLetters)
        } catch let error as PostgresError where error.isDataError {
            logger.warning("the database refused a row of the batch; splitting it to find the refused rows",
                           metadata: ["error": "\(error)", "events": "\(batch.events.count)"])
            var outcome = Outcome()
            var refused: [(index: Int, error: PostgresError)] = []
            try await split(w, batch, range: 0..<batch.events.count, ingested: ingested, into: &outcome, refused: &refused)
            let states = Set(refused.map { $0.error.sqlState ?? "?" })
            if refused.count == batch.events.count, states.count == 1, let state = states.first, let first = batch.events.first,
               try await isDatabaseChange(w, refused: state, batchSize: batch.events.count, at: first.event.ts) {
                throw WorkerError(.everyRowRefused, "PostgreSQL refused every row of the batch (\(batch.events.count)) with SQLSTATE "
                    + "\(state), and a copy of a stored row too: a change to the database (a column or constraint added, "
                    + "a partition detached?), not poison; retrying, nothing dead-lettered")
            }
            // Once more before a row becomes a dead letter: a change undone while the batch was being split
            // (the constraint dropped, the partition attached again) must not cost the rows refused before it.
            for (index, _) in refused {
                do {
                    let r = try await w.write(payload: EventTableWriter.copyPayload([batch.events[index]], ingestedAtNanos: ingested), count: 1)
                    outcome.inserted += r.inserted
                    outcome.duplicates += r.staged - r.inserted
                } catch let error as PostgresError where error.isDataError {
                    outcome.deadLetters.append(deadLetter(batch.sources[index], refusal: error))
                }
            }
            // The rows the database refused go to the dead-letter topic before the checkpoint moves past them.
            if let gaveUp = await deliver(outcome.deadLetters, shouldStop: shouldStop) { throw GaveUp(result: gaveUp) }
            outcome.deadLetters = deadLetters + outcome.deadLetters
            _ = try await w.write(payload: [], count: 0, checkpoints: checkpoints, deadLetters: outcome.deadLetters)
            return outcome
        }
    }

    /// Every row of a batch was refused with SQLSTATE `refused`: a change to the database when a known-good
    /// row (a copy of a stored one) is refused the same way; with no stored row to copy, when the batch
    /// held more than one row.
    private func isDatabaseChange(_ w: EventTableWriter, refused: String, batchSize: Int, at ts: Int64) async throws -> Bool {
        if let canary = try await w.refusalOfAKnownGoodRow(at: ts) { return canary.sqlState == refused }
        let stored = try await w.connection.query("SELECT EXISTS (SELECT 1 FROM guardian_events)").scalar == "t"
        return !stored && batchSize > 1
    }

    /// The dead letter of a row the database refused.
    private func deadLetter(_ m: KafkaMessage, refusal error: PostgresError) -> DeadLetter {
        let rejection = EventRejection(.databaseRefused, "PostgreSQL refused the row: \(error.message)")
        return DeadLetter(
            topic: m.topic, partition: m.partition, offset: m.offset, key: m.key, value: m.value,
            reason: rejection.reason.rawValue, errorCode: error.code, errorMessage: rejection.message,
            worker: configuration.workerID, timeNanos: WallClock.nowNanoseconds())
    }

    /// Stores `range` of the batch, halving it around rows the database refuses because of their data;
    /// each such row's index is collected in `refused`.
    private func split(
        _ w: EventTableWriter, _ batch: DecodedBatch, range: Range<Int>, ingested: Int64, into outcome: inout Outcome,
        refused: inout [(index: Int, error: PostgresError)]
    ) async throws {
        guard !range.isEmpty else { return }
        let events = Array(batch.events[range])
        do {
            let r = try await w.write(payload: EventTableWriter.copyPayload(events, ingestedAtNanos: ingested), count: events.count)
            outcome.inserted += r.inserted
            outcome.duplicates += r.staged - r.inserted
        } catch let error as PostgresError where error.isDataError {
            if range.count == 1 {
                refused.append((range.lowerBound, error))
                return
            }
            let mid = range.lowerBound + range.count / 2
            try await split(w, batch, range: range.lowerBound..<mid, ingested: ingested, into: &outcome, refused: &refused)
            try await split(w, batch, range: mid..<range.upperBound, ingested: ingested, into: &outcome, refused: &refused)
        }
    }
}

import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianStores
import GuardianSupport
import Logging

/// Makes one batch durable: its rows, its dead letters and its checkpoints in one database
/// transaction, then its dead letters on the dead-letter topic.
///
/// Poison vs. outage: a row the database refuses because of its data (SQLSTATE class 22 or 23 other
/// than the unique key) is found by splitting the batch, and dead-lettered while the rest is stored.
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

    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let deadLetterTopic: DeadLetterPublisher
    private let onDatabase: @Sendable (_ up: Bool, _ error: String?) -> Void
    private var writer: EventTableWriter?

    init(
        configuration: WorkerConfiguration, logger: Logger, deadLetters: DeadLetterPublisher,
        onDatabase: @escaping @Sendable (_ up: Bool, _ error: String?) -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.deadLetterTopic = deadLetters
        self.onDatabase = onDatabase
    }

    /// Writes `write.batch` until it is durable (returns the outcome) or `shouldStop` turns true first
    /// (returns nil: nothing of it may be committed).
    func write(_ write: InFlightWrite, shouldStop: @Sendable () -> Bool) async -> Outcome? {
        let batch = write.batch.decoded
        let now = WallClock.nowNanoseconds()
        let rejected = batch.rejected.map { r in
            DeadLetter(topic: r.topicPartition.topic, partition: r.topicPartition.partition, offset: r.offset, key: r.key, value: r.value,
                       reason: r.rejection.reason.rawValue, errorCode: r.rejection.code, errorMessage: r.rejection.message,
                       worker: configuration.workerID, timeNanos: now)
        }
        let checkpoints = batch.nextOffsets.map { (topic: $0.key.topic, partition: $0.key.partition, nextOffset: $0.value) }
        var delay = Duration.milliseconds(100)
        var outcome: Outcome?
        while outcome == nil {
            if shouldStop() { return nil }
            do {
                let w = try await connectedWriter()
                outcome = try await writeRows(w, batch, checkpoints: checkpoints, deadLetters: rejected)
                write.isFailing = false
                onDatabase(true, nil)
            } catch {
                writer = nil  // a fresh connection next time
                write.isFailing = true
                onDatabase(false, "\(error)")
                logger.error("database write failed; retrying the batch (nothing is committed meanwhile)",
                             metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.maxRetryDelay)
            }
        }
        guard let outcome else { return nil }
        // The dead letters are in the table; the topic must have them too before the offsets move.
        delay = .milliseconds(100)
        while !outcome.deadLetters.isEmpty {
            do {
                try await deadLetterTopic.publish(outcome.deadLetters)
                break
            } catch {
                if shouldStop() { return nil }
                logger.error("dead letters not delivered to the dead-letter topic; retrying (nothing is committed meanwhile)",
                             metadata: ["topic": "\(deadLetterTopic.topic)", "error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.maxRetryDelay)
            }
        }
        return outcome
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
        checkpoints: [(topic: String, partition: Int32, nextOffset: Int64)], deadLetters: [DeadLetter]
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
            try await split(w, batch, range: 0..<batch.events.count, ingested: ingested, into: &outcome)
            outcome.deadLetters = deadLetters + outcome.deadLetters
            _ = try await w.write(payload: [], count: 0, checkpoints: checkpoints, deadLetters: outcome.deadLetters)
            return outcome
        }
    }

    private func split(_ w: EventTableWriter, _ batch: DecodedBatch, range: Range<Int>, ingested: Int64, into outcome: inout Outcome) async throws {
        guard !range.isEmpty else { return }
        let events = Array(batch.events[range])
        do {
            let r = try await w.write(payload: EventTableWriter.copyPayload(events, ingestedAtNanos: ingested), count: events.count)
            outcome.inserted += r.inserted
            outcome.duplicates += r.staged - r.inserted
        } catch let error as PostgresError where error.isDataError {
            if range.count == 1 {
                let m = batch.sources[range.lowerBound]
                let rejection = EventRejection(.databaseRefused, "PostgreSQL refused the row: \(error.message)")
                outcome.deadLetters.append(DeadLetter(
                    topic: m.topic, partition: m.partition, offset: m.offset, key: m.key, value: m.value,
                    reason: rejection.reason.rawValue, errorCode: error.code, errorMessage: rejection.message,
                    worker: configuration.workerID, timeNanos: WallClock.nowNanoseconds()))
                return
            }
            let mid = range.lowerBound + range.count / 2
            try await split(w, batch, range: range.lowerBound..<mid, ingested: ingested, into: &outcome)
            try await split(w, batch, range: mid..<range.upperBound, ingested: ingested, into: &outcome)
        }
    }
}

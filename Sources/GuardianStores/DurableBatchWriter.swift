import GuardianEvents
import GuardianPostgres
import GuardianSupport
import Logging

/// One batch to make durable: its events, the dead letters known before the write (messages that are
/// not events), and the checkpoints the write moves.
public struct DurableBatch: Sendable {
    public var events: [StoredEvent]
    public var deadLetters: [DeadLetter]
    public var checkpoints: [EventTableWriter.Checkpoint]
    /// The dead letter of `events[index]` when the database refuses that row because of its data.
    public var refusedLetter: @Sendable (_ index: Int, _ refusal: PostgresError) -> DeadLetter

    public init(
        events: [StoredEvent], deadLetters: [DeadLetter] = [], checkpoints: [EventTableWriter.Checkpoint] = [],
        refusedLetter: @escaping @Sendable (_ index: Int, _ refusal: PostgresError) -> DeadLetter
    ) {
        self.events = events
        self.deadLetters = deadLetters
        self.checkpoints = checkpoints
        self.refusedLetter = refusedLetter
    }
}

/// The one durable-write path, shared by the worker and `guardian replay`: a batch's dead letters are
/// delivered (by the caller's `deliver`, e.g. to the dead-letter topic, acknowledged) before the
/// transaction that records them with the batch's rows and moves its checkpoints past them. A crash in
/// between leaves the checkpoint behind the dead letter: the next reader delivers it again.
///
/// Alert events (risk breaches, circuit-breaker trips) are announced by `AlertNotice` in the
/// transaction that stores them.
///
/// Poison vs. outage: a row the database refuses because of its data (SQLSTATE class 22 or 23 other
/// than the unique key) is found by splitting the batch, tried once more, and dead-lettered while the
/// rest is stored. When every row of a batch is refused with the same SQLSTATE and so is a copy of a
/// stored row (a NOT NULL column or a CHECK added, a partition detached), the database changed: that
/// throws `StoreError(.databaseChanged)`, and nothing is dead-lettered. Any other error is thrown as
/// is, for the caller to retry the whole batch on a fresh connection (every attempt is idempotent).
public struct DurableBatchWriter: Sendable {
    /// What one write did.
    public struct Outcome: Sendable {
        public var inserted = 0
        /// Rows already stored (a redelivery or replay), skipped by the unique key.
        public var duplicates = 0
        /// Every dead letter recorded with the batch (known before the write, then refused by the database).
        public var deadLetters: [DeadLetter] = []

        public init() {}
    }

    public let writer: EventTableWriter
    private let logger: Logger

    public init(writer: EventTableWriter, logger: Logger) {
        self.writer = writer
        self.logger = logger
    }

    /// One attempt at making `batch` durable. `deliver` is called with dead letters before any
    /// transaction that records them; when it throws, nothing past them is made durable and its error
    /// is thrown.
    public func write(
        _ batch: DurableBatch, deliver: @Sendable ([DeadLetter]) async throws -> Void
    ) async throws -> Outcome {
        if !batch.deadLetters.isEmpty { try await deliver(batch.deadLetters) }
        let ingested = WallClock.nowNanoseconds()
        do {
            let r = try await writer.write(payload: EventTableWriter.copyPayload(batch.events, ingestedAtNanos: ingested),
                                           count: batch.events.count, checkpoints: batch.checkpoints, deadLetters: batch.deadLetters,
                                           notify: AlertNotice.statement(for: batch.events))
            var outcome = Outcome()
            outcome.inserted = r.inserted
            outcome.duplicates = r.staged - r.inserted
            outcome.deadLetters = batch.deadLetters
            return outcome
        } catch let error as PostgresError where error.isDataError {
            logger.warning("the database refused a row of the batch; splitting it to find the refused rows",
                           metadata: ["error": "\(error)", "events": "\(batch.events.count)"])
            return try await writeSplit(batch, ingested: ingested, deliver: deliver)
        }
    }

    private func writeSplit(
        _ batch: DurableBatch, ingested: Int64, deliver: @Sendable ([DeadLetter]) async throws -> Void
    ) async throws -> Outcome {
        var outcome = Outcome()
        var refused: [(index: Int, error: PostgresError)] = []
        try await split(batch.events, range: 0..<batch.events.count, ingested: ingested, into: &outcome, refused: &refused)
        let states = Set(refused.map { $0.error.sqlState ?? "?" })
        if refused.count == batch.events.count, states.count == 1, let state = states.first, let first = batch.events.first,
           try await isDatabaseChange(refused: state, batchSize: batch.events.count, at: first.event.ts) {
            throw StoreError(.databaseChanged, "PostgreSQL refused every row of the batch (\(batch.events.count)) with SQLSTATE "
                + "\(state), and a copy of a stored row too: a change to the database (a column or constraint added, "
                + "a partition detached?), not poison; retrying, nothing dead-lettered")
        }
        // Once more before a row becomes a dead letter: a change undone while the batch was being split
        // (the constraint dropped, the partition attached again) must not cost the rows refused before it.
        var refusedLetters: [DeadLetter] = []
        for (index, _) in refused {
            do {
                let r = try await writer.write(payload: EventTableWriter.copyPayload([batch.events[index]], ingestedAtNanos: ingested), count: 1,
                                               notify: AlertNotice.statement(for: [batch.events[index]]))
                outcome.inserted += r.inserted
                outcome.duplicates += r.staged - r.inserted
            } catch let error as PostgresError where error.isDataError {
                refusedLetters.append(batch.refusedLetter(index, error))
            }
        }
        // The rows the database refused are delivered before the checkpoint moves past them.
        if !refusedLetters.isEmpty { try await deliver(refusedLetters) }
        outcome.deadLetters = batch.deadLetters + refusedLetters
        _ = try await writer.write(payload: [], count: 0, checkpoints: batch.checkpoints, deadLetters: outcome.deadLetters)
        return outcome
    }

    /// Every row of a batch was refused with SQLSTATE `refused`: a change to the database when a known-good
    /// row (a copy of a stored one) is refused the same way; with no stored row to copy, when the batch
    /// held more than one row.
    private func isDatabaseChange(refused: String, batchSize: Int, at ts: Int64) async throws -> Bool {
        if let canary = try await writer.refusalOfAKnownGoodRow(at: ts) { return canary.sqlState == refused }
        let stored = try await writer.connection.query("SELECT EXISTS (SELECT 1 FROM guardian_events)").scalar == "t"
        return !stored && batchSize > 1
    }

    /// Stores `range` of the events, halving it around rows the database refuses because of their data;
    /// each such row's index is collected in `refused`.
    private func split(
        _ events: [StoredEvent], range: Range<Int>, ingested: Int64, into outcome: inout Outcome,
        refused: inout [(index: Int, error: PostgresError)]
    ) async throws {
        guard !range.isEmpty else { return }
        do {
            let r = try await writer.write(payload: EventTableWriter.copyPayload(Array(events[range]), ingestedAtNanos: ingested),
                                           count: range.count, notify: AlertNotice.statement(for: events[range]))
            outcome.inserted += r.inserted
            outcome.duplicates += r.staged - r.inserted
        } catch let error as PostgresError where error.isDataError {
            if range.count == 1 {
                refused.append((range.lowerBound, error))
                return
            }
            let mid = range.lowerBound + range.count / 2
            try await split(events, range: range.lowerBound..<mid, ingested: ingested, into: &outcome, refused: &refused)
            try await split(events, range: mid..<range.upperBound, ingested: ingested, into: &outcome, refused: &refused)
        }
    }
}

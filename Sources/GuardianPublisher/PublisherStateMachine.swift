import GuardianKafka

/// The publisher's decisions, pure: where each event goes, what a delivery report means, what the
/// drainer does next, and what close must keep. `GuardianPublisher` holds it behind one lock and
/// carries out the actions it returns; where an action must be atomic with the decision (produce or
/// spool an event in order, hand the spool over), it runs under that lock.
///
/// ```
///   direct ──brokers down──▶ spooling ──brokers answer──▶ draining ──last round handed over──▶ direct
///     │  ▲                                                   ▲  │
///     │  └──────────────── (hand-over) ──────────────────────┘  │
///     └─ librdkafka queue full, or a direct send failed ────────┘
///   any ──close(), once everything handed off is routed──▶ closing (drainer stopped, purge) ──▶ closed
/// ```
struct PublisherStateMachine {
    enum Mode: Equatable, Sendable {
        /// Events go straight to librdkafka.
        case direct
        /// The brokers are down: events go to the spool; the drainer probes the brokers.
        case spooling
        /// The brokers answer: events still go to the spool, behind what is there; the drainer hands
        /// the spool to Kafka in rounds, and goes back to direct once the last round is produced.
        case draining
        /// `close()` routed everything handed off and stopped the drainer: librdkafka's queue is purged,
        /// what comes back is kept for the spool. Events are dropped (none should arrive).
        case closing
        /// Close spooled what Kafka did not acknowledge. Events are dropped.
        case closed
    }

    /// Where an event handed off by `publish` goes.
    enum Route: Equatable {
        case produce, spool, drop
    }

    /// What a delivery report means.
    enum DeliveryAction: Equatable {
        /// A record of the drainer's round: the drainer settles it (counted when delivered).
        case settledByRound
        /// Delivered directly: counted.
        case delivered
        /// Refused for good: to the dead-letter file.
        case deadLetter
        /// A direct send that failed while running: to the spool now (it was counted as failed).
        case spool
        /// Purged by `close()`: kept (in `purged`, with its produce order) for close to spool.
        case keepForClose
        /// A purged report after close spooled the rest: lost (counted as dropped).
        case lost
        /// Failed without a copy of the event: lost (counted as failed).
        case failedWithoutCopy
    }

    /// What the drainer does next.
    enum DrainStep: Equatable {
        /// A round is in flight: wait for its reports.
        case awaitRound
        /// Settle the round: every record has its report.
        case settleRound
        /// Nothing spooled: idle.
        case idle
        /// The brokers are down: ask them for metadata before producing anything.
        case probe
        /// Produce the next round from the spool.
        case produceRound
        /// Closing: stop.
        case stop
    }

    /// The outcome of one record the drainer produced from the spool.
    enum RoundOutcome: Equatable {
        case pending, delivered
        case failed(KafkaError)
    }

    private(set) var mode: Mode
    private(set) var counters = GuardianPublisher.Counters()
    /// The drainer's round in flight: message id → outcome. Nothing is produced from the spool again
    /// while it is non-empty.
    private(set) var round: [UInt64: RoundOutcome] = [:]
    /// Directly sent events purged at close, with their produce ids (their order).
    private(set) var purged: [(id: UInt64, key: [UInt8], value: [UInt8])] = []
    private var purgedTaken = false

    /// `spoolHoldsRecords`: a previous run left events in the spool; they go first.
    init(spoolHoldsRecords: Bool) {
        mode = spoolHoldsRecords ? .draining : .direct
    }

    /// True while events go to (or come out of) the spool.
    var isSpooling: Bool { mode == .spooling || mode == .draining }

    // MARK: - Events from publish (the writer thread)

    /// Where the next event goes.
    mutating func route() -> Route {
        counters.published += 1
        switch mode {
        case .direct: return .produce
        case .spooling, .draining: return .spool
        case .closing, .closed:
            counters.dropped += 1
            return .drop
        }
    }

    /// librdkafka's queue was full for a direct send: spool it and everything after it.
    mutating func queueFull() -> Route {
        if mode == .direct { mode = .draining }
        return .spool
    }

    mutating func spooled() { counters.spooled += 1 }
    mutating func spoolFailed() { counters.dropped += 1 }
    mutating func deadLettered() { counters.deadLettered += 1 }
    mutating func deadLetterFailed() { counters.dropped += 1 }

    // MARK: - The brokers

    /// librdkafka reports all brokers down: stop growing memory, spool until they answer.
    mutating func brokersDown() {
        if mode == .direct || mode == .draining { mode = .spooling }
    }

    /// A delivery succeeded or a metadata probe was answered.
    mutating func brokersAnswered() {
        if mode == .spooling { mode = .draining }
    }

    // MARK: - Delivery reports (the polling thread)

    /// `key`/`value`: librdkafka's copy of a failed message (nil when it gave none); a purged one is
    /// kept here for close.
    mutating func delivery(id: UInt64, error: KafkaError?, key: [UInt8]?, value: [UInt8]?, permanent: Bool, purge: Bool) -> DeliveryAction {
        if let outcome = round[id] {
            if outcome == .pending { round[id] = error.map { .failed($0) } ?? .delivered }
            if error == nil {
                counters.delivered += 1
                brokersAnswered()
            }
            return .settledByRound
        }
        guard error != nil else {
            counters.delivered += 1
            brokersAnswered()
            return .delivered
        }
        if permanent { return .deadLetter }
        guard let key, let value else {
            counters.failed += 1
            return .failedWithoutCopy
        }
        if purge || mode == .closing || mode == .closed {
            if purgedTaken {
                counters.dropped += 1
                return .lost
            }
            purged.append((id, key, value))
            return .keepForClose
        }
        counters.failed += 1
        if mode == .direct { mode = .draining }  // what follows goes behind it
        return .spool
    }

    // MARK: - The drainer

    func nextDrainStep() -> DrainStep {
        if mode == .closing || mode == .closed { return .stop }
        if !round.isEmpty {
            return round.values.contains(.pending) ? .awaitRound : .settleRound
        }
        switch mode {
        case .direct: return .idle
        case .spooling: return .probe
        default: return .produceRound
        }
    }

    /// A record of the round was produced (registered before its report can arrive).
    mutating func roundProduced(id: UInt64) { round[id] = .pending }

    /// The round's outcomes by id, and the round cleared.
    mutating func settleRound() -> [UInt64: RoundOutcome] {
        defer { round = [:] }
        return round
    }

    /// The last round of the spool was produced: later events go directly, behind it in librdkafka's queue.
    mutating func handedOver() {
        if mode == .draining { mode = .direct }
    }

    // MARK: - close()

    /// Everything handed off was routed (and delivered, or close's wait ran out): the drainer stops,
    /// later events are dropped, failed reports are kept for close.
    mutating func beginClosing() { mode = .closing }

    /// The purged direct events, once, and the publisher closed: a purge report after this is lost.
    mutating func takePurged() -> [(id: UInt64, key: [UInt8], value: [UInt8])] {
        purgedTaken = true
        mode = .closed
        defer { purged = [] }
        return purged
    }

    /// Counts events close put in the spool, or could not.
    mutating func closeSpooled(_ n: Int) { counters.spooled += n }
    mutating func closeLost(_ n: Int) { counters.dropped += n }
    mutating func unreportedAtClose(_ n: Int) { counters.failed += n }
}

import Foundation
import GuardianEvents
import GuardianKafka
import GuardianSupport
import Metrics
import Synchronization

/// Publishes guardian events to Kafka without ever making the trading engine wait.
///
/// `publish` encodes the event (contract v1), keys it by symbol and hands it to librdkafka's idempotent
/// producer (acks=all, compressed), returning at once. When Kafka is unreachable or the in-memory queue
/// is full, events go to an append-only spool on local disk and are delivered from there, in order, when
/// Kafka answers again; once anything is spooled, later events are spooled behind it, so the order per
/// symbol is kept. Only when the spool is full too is an event dropped: counted and reported through
/// `onError`, never silently. The spool survives a crash and is drained on the next start.
///
/// Every decision — where an event goes, what a delivery report means, what the drainer does next,
/// what close keeps — is made by `PublisherStateMachine` (direct / spooling / draining / closing),
/// behind one lock; this type carries out the actions it returns. `publish` itself only appends to a
/// bounded in-memory hand-off (its own short lock) that a writer thread routes.
public final class GuardianPublisher: Sendable {
    /// What the publisher has done so far.
    public struct Counters: Sendable, Equatable {
        public var published = 0
        public var delivered = 0
        public var failed = 0
        public var spooled = 0
        public var dropped = 0
        /// Refused by `publish` before queueing: over `maxEventBytes`, or a string holding U+0000.
        public var rejected = 0
        /// Refused by Kafka for good; kept in the dead-letter file of the spool directory.
        public var deadLettered = 0
    }

    public let configuration: PublisherConfiguration
    private let producer: KafkaProducer
    private let spool: Spool
    /// The publisher's decisions; the one lock around them (`PublisherStateMachine`).
    private let machine: Mutex<PublisherStateMachine>
    private let errorHandler: @Sendable (Error) -> Void
    /// `onError` runs here, never on the caller's (the engine's) thread.
    private let callbackThread = DedicatedThread(name: "publisher-callbacks")
    /// Hands events from `publish` (which only appends to memory) to Kafka or the spool, in order.
    private let writerThread = DedicatedThread(name: "publisher-writer")
    /// The bounded hand-off between `publish` and the writer thread.
    private struct Ring {
        var entries: [(key: [UInt8], value: [UInt8])] = []
        var scheduled = false
        var closed = false
        var sequences: [String: Int64] = [:]
        /// Events `publish` refused or dropped itself, counted here: `publish` never takes the machine's
        /// lock, which the writer holds across spool writes (an fsync with `SpoolSyncPolicy.everyRecord`).
        var rejected = 0
        var dropped = 0
        var count: Int { entries.count }
    }
    private let ring = Mutex(Ring())
    private let encoder = EventEncoder()
    private let metrics = PublisherMetrics()
    private let drainer = Mutex<Task<Void, Never>?>(nil)
    private let deadLetters: PublisherDeadLetters
    /// The records of the drainer's round in flight, in spool order (drainer task and close only; their
    /// outcomes are in the state machine).
    private let roundRecords = Mutex<[InFlightRecord]>([])

    /// Opens the spool (draining what a previous run left) and the producer.
    /// `onError` receives delivery failures, spool errors and drops; it is called from background threads.
    public init(configuration: PublisherConfiguration, onError: @escaping @Sendable (Error) -> Void = { _ in }) throws {
        self.configuration = configuration
        self.errorHandler = onError
        let spool = try Spool(directory: configuration.spoolDirectory, maxBytes: configuration.spoolMaxBytes,
                              sync: configuration.spoolSync)
        self.spool = spool
        deadLetters = PublisherDeadLetters(directory: configuration.spoolDirectory)
        machine = Mutex(PublisherStateMachine(spoolHoldsRecords: !spool.isEmpty))
        var kafka = configuration.kafka
        for (k, v) in configuration.producerProperties where kafka.properties[k] == nil { kafka.properties[k] = v }
        let box = WeakBox()
        producer = try KafkaProducer(configuration: kafka, enforced: PublisherConfiguration.enforcedProducerProperties, onDelivery: { report in
            box.publisher?.delivered(report)
        }, onError: { error in
            box.publisher?.clientError(error)
        })
        box.publisher = self
        if spool.corruptSpansAtOpen > 0 {
            onError(SpoolError(.corrupt, "\(spool.corruptSpansAtOpen) damaged record(s) in the spool at \(configuration.spoolDirectory.path): they will be skipped and copied to the dead-letter file; the records around them are delivered"))
        }
        startDrainer()
    }

    deinit {
        drainer.withLock { $0?.cancel() }
        writerThread.shutdown()
        callbackThread.shutdown()
    }

    private func onError(_ error: Error) {
        let handler = errorHandler
        _ = callbackThread.submit { handler(error) }
    }

    /// Current counters (also exported through swift-metrics as `guardian_publisher_*_total`).
    public var counters: Counters {
        var c = machine.withLock { $0.counters }
        let (rejected, dropped) = ring.withLock { ($0.rejected, $0.dropped) }
        c.rejected += rejected
        c.dropped += dropped
        return c
    }

    /// True while events are going to (or coming out of) the local spool.
    public var isSpooling: Bool { machine.withLock { $0.isSpooling } }

    /// Undelivered bytes in the spool.
    public var spoolBytes: Int { spool.byteCount }

    /// The dead-letter file: events Kafka refused for good, one JSON line each.
    public var deadLetterFile: URL { deadLetters.url }

    /// Publishes `event`. Never throws and never waits on the network. An event that could never be
    /// stored — encoded larger than `maxEventBytes`, or a string holding U+0000 — is rejected here
    /// (counted, reported to `onError`) instead of blocking the events behind it.
    public func publish(_ event: GuardianEvent) {
        var value: [UInt8] = []
        value.reserveCapacity(320)
        encoder.encode(event, into: &value)
        if let rejection = Self.rejection(event, encodedBytes: value.count, limit: configuration.maxEventBytes) {
            handOff(.rejected(rejection))
            return
        }
        publish(key: Array(event.symbol.utf8), value: value)
    }

    static func rejection(_ e: GuardianEvent, encodedBytes: Int, limit: Int) -> EventRejection? {
        if encodedBytes > limit {
            return EventRejection(.oversized, "event \(e.eventID) of \(e.symbol) is \(encodedBytes) bytes encoded, over the \(limit)-byte limit")
        }
        for (name, text) in [("reason", e.reason), ("attrs", e.attrs)] where text?.utf8.contains(0) == true {
            return EventRejection(.invalidValue, "event \(e.eventID): '\(name)' contains U+0000 (NUL), which PostgreSQL cannot store")
        }
        return nil
    }

    /// Publishes an event whose `seq` and `eventID` the publisher assigns: `eventID` is a random UUID;
    /// `seq` counts up by one per symbol, starting — for a symbol's first event in this process — at
    /// `startingAt` when given, else at the wall clock in nanoseconds. So seq keeps increasing across
    /// restarts of the engine (a new process starts above anything an earlier one could have reached,
    /// short of a clock set back), and the Redis seq guard never freezes a symbol after a restart.
    /// Assigning and enqueueing happen in one critical section: concurrent callers on one symbol
    /// enqueue in seq order.
    @discardableResult
    public func publishAssigningIdentity(_ event: GuardianEvent, startingAt start: Int64? = nil) -> GuardianEvent {
        var e = event
        e.eventID = .random()
        let key = Array(e.symbol.utf8)
        let limit = configuration.maxEventBytes
        let capacity = configuration.memoryRingEvents
        let outcome: HandOff = ring.withLock { r in
            let next = r.sequences[e.symbol].map { $0 + 1 } ?? (start ?? WallClock.nowNanoseconds())
            r.sequences[e.symbol] = next
            e.seq = next
            var value: [UInt8] = []
            value.reserveCapacity(320)
            encoder.encode(e, into: &value)
            if let rejection = Self.rejection(e, encodedBytes: value.count, limit: limit) { return .rejected(rejection) }
            return Self.append(&r, key: key, value: value, capacity: capacity)
        }
        handOff(outcome)
        return e
    }

    /// Appends to the ring and returns: no disk and no network on the caller's thread.
    private func publish(key: [UInt8], value: [UInt8]) {
        let capacity = configuration.memoryRingEvents
        handOff(ring.withLock { Self.append(&$0, key: key, value: value, capacity: capacity) })
    }

    private enum HandOff {
        case queued(wakeWriter: Bool)
        case full, closed
        case rejected(EventRejection)
    }

    private static func append(_ r: inout Ring, key: [UInt8], value: [UInt8], capacity: Int) -> HandOff {
        if r.closed { return .closed }
        if r.count >= capacity { return .full }
        r.entries.append((key, value))
        if r.scheduled { return .queued(wakeWriter: false) }
        r.scheduled = true
        return .queued(wakeWriter: true)
    }

    private func handOff(_ outcome: HandOff) {
        switch outcome {
        case .queued(let wake):
            metrics.published.increment()
            if wake { _ = writerThread.submit { [weak self] in self?.drainRing() } }
        case .rejected(let rejection):
            ring.withLock { $0.rejected += 1 }
            metrics.rejected.increment()
            onError(rejection)
        case .full:
            ring.withLock { $0.dropped += 1 }
            metrics.dropped.increment()
            onError(SpoolError(.full, "the publisher's in-memory hand-off holds \(configuration.memoryRingEvents) events already (the writer is behind): event dropped"))
        case .closed:
            ring.withLock { $0.dropped += 1 }
            metrics.dropped.increment()
            onError(KafkaError(.closed, "publish after close(): event dropped"))
        }
    }

    /// On the writer thread: moves everything in the ring to Kafka or the spool, oldest first. The
    /// decision to spool and the append happen under one lock, so nothing sent directly can overtake
    /// what is already in the spool.
    /// Once the hand-off is empty the writer keeps looking for `writerLinger` (every 100 µs) before it
    /// sleeps: meanwhile `scheduled` stays set, so a steady stream's `publish` calls never pay for
    /// waking a thread (a futex wake, and on a busy machine the preemption it can cause).
    private func drainRing() {
        let linger = configuration.writerLinger
        var idleSince: ContinuousClock.Instant?
        while true {
            let lingered = idleSince.map { ContinuousClock.now - $0 >= linger } ?? (linger <= .zero)
            let (batch, sleeping) = ring.withLock { r -> ([(key: [UInt8], value: [UInt8])], Bool) in
                let taken = r.entries
                r.entries = []
                // Decided under the lock: a `publish` after this sees `scheduled` false and wakes the thread.
                if taken.isEmpty && lingered { r.scheduled = false }
                return (taken, taken.isEmpty && lingered)
            }
            if sleeping { return }
            if batch.isEmpty {
                if idleSince == nil { idleSince = .now }
                usleep(100)
                continue
            }
            idleSince = nil
            for m in batch {
                let outcome = machine.withLock { m2 in route(&m2, key: m.key, value: m.value) }
                handle(outcome, key: m.key)
            }
        }
    }

    /// True when nothing waits in the ring and the writer is idle.
    private var handedOff: Bool { ring.withLock { $0.count == 0 && !$0.scheduled } }

    /// Carries out the machine's route for one event, under its lock: nothing sent directly can
    /// overtake what is already in the spool.
    private func route(_ m: inout PublisherStateMachine, key: [UInt8], value: [UInt8]) -> Outcome {
        var route = m.route()
        if route == .produce {
            // The message timestamp is the event's ts: replay ranges in Kafka time then match event time.
            let result = Result { () throws(KafkaError) in
                try producer.produce(topic: configuration.topic, key: key, value: value,
                                     timestampMs: EventEncoder.timestampMilliseconds(ofEncoded: value))
            }
            switch result {
            case .success: return .sent
            case .failure(let error) where PublisherDeadLetters.isPermanent(error): return .refused(error, value)
            case .failure: route = m.queueFull()
            }
        }
        guard route == .spool else { return .closed }
        do throws(SpoolError) {
            try spool.append(key: key, value: value)
            m.spooled()
            return .spooled
        } catch {
            m.spoolFailed()
            return .dropped(error)
        }
    }

    private func handle(_ outcome: Outcome, key: [UInt8], value: [UInt8] = []) {
        switch outcome {
        case .sent: break
        case .refused(let error, let value): deadLetter(key: key, value: value, error: error)
        case .spooled: metrics.spooled.increment()
        case .dropped(let error):
            metrics.dropped.increment()
            onError(error)
        case .closed:
            metrics.dropped.increment()
            onError(KafkaError(.closed, "publish after close(): event dropped"))
        }
    }

    /// RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.
    static let allBrokersDown: Int32 = -187

    private enum Outcome {
        case sent, spooled, closed
        case dropped(SpoolError)
        /// Kafka will never take it: to the dead-letter file, not the spool (it would block what follows).
        case refused(KafkaError, [UInt8])
    }

    /// RD_KAFKA_RESP_ERR__PURGE_QUEUE and __PURGE_INFLIGHT: `close()` took the message back.
    static let purgeCodes: Set<Int32> = [-152, -151]

    /// A delivery report (on the producer's polling thread): the machine says what it means.
    private func delivered(_ report: DeliveryReport) {
        let error = report.error
        let key = report.failedKey, value = report.failedValue
        let permanent = error.map(PublisherDeadLetters.isPermanent) ?? false
        let purge = error?.rdkafkaCode.map(Self.purgeCodes.contains) ?? false
        // A failed direct send is spooled under the lock, in the same step as the decision: what the
        // writer routes next goes behind it.
        let (action, spoolError) = machine.withLock { m -> (PublisherStateMachine.DeliveryAction, SpoolError?) in
            let action = m.delivery(id: report.messageID, error: error, key: key, value: value, permanent: permanent, purge: purge)
            switch action {
            case .spool:
                do throws(SpoolError) {
                    try spool.append(key: key ?? [], value: value ?? [])
                    m.spooled()
                } catch {
                    m.spoolFailed()
                    return (action, error)
                }
            default: break
            }
            return (action, nil)
        }
        switch action {
        case .keepForClose: break
        case .settledByRound: if error == nil { metrics.delivered.increment() }
        case .delivered: metrics.delivered.increment()
        case .deadLetter: deadLetter(key: key, value: value ?? [], error: error!)
        case .spool:
            metrics.failed.increment()
            let symbol = String(decoding: key ?? [], as: UTF8.self)
            if let spoolError {
                metrics.dropped.increment()
                onError(KafkaError(.produce, "an event of \(symbol) failed to deliver (\(error!.message)) and could not be spooled (\(spoolError.message)): it is lost", rdkafkaCode: error?.rdkafkaCode))
            } else {
                metrics.spooled.increment()
                onError(KafkaError(.produce, "an event of \(symbol) failed to deliver (\(error!.message)); it was spooled and is delivered from the spool, after any later events of \(symbol) already delivered", rdkafkaCode: error?.rdkafkaCode))
            }
        case .lost:
            metrics.dropped.increment()
            onError(KafkaError(.closed, "a purged event's report came after close() had spooled the rest; the event is lost"))
        case .failedWithoutCopy:
            metrics.failed.increment()
            onError(KafkaError(.produce, "an event's delivery failed and librdkafka returned no copy of it, so it is lost: \(error!.message)"))
        }
    }

    /// Sets an event Kafka refused for good (or a damaged spool record) aside in the dead-letter file;
    /// counted and reported.
    private func deadLetter(key: [UInt8]?, value: [UInt8], error: any GuardianError) {
        do {
            try deadLetters.record(topic: configuration.topic, key: key, value: value, errorCode: error.code, errorMessage: error.message)
            machine.withLock { $0.deadLettered() }
            metrics.deadLettered.increment()
            onError(PublisherDeadLetterNotice(code: error.code, message: "event dead-lettered to \(deadLetters.url.path): \(error.message)"))
        } catch {
            machine.withLock { $0.deadLetterFailed() }
            metrics.dropped.increment()
            onError(error)
        }
    }

    private func clientError(_ error: KafkaError) {
        if error.rdkafkaCode == Self.allBrokersDown {  // stop growing memory: spool until they answer
            machine.withLock { $0.brokersDown() }
        }
        onError(error)
    }

    /// Moves spooled events to Kafka, oldest first, whenever Kafka answers; syncs the spool on its interval.
    private func startDrainer() {
        let task = Task.detached { [weak self] in
            let decoder = EventDecoder(maxEventBytes: Int.max)
            var lastGauges = ContinuousClock.now - .seconds(10)
            while !Task.isCancelled {
                guard let self else { return }
                let pause = await self.drainOnce()
                self.spool.syncIfDue()
                if ContinuousClock.now - lastGauges >= .seconds(1) {
                    lastGauges = .now
                    self.recordSpoolGauges(decoder)
                }
                try? await Task.sleep(for: pause)
            }
        }
        drainer.withLock { $0 = task }
    }

    /// `guardian_publisher_spool_bytes` and `guardian_publisher_spool_oldest_age_seconds` (event time of
    /// the oldest undelivered record).
    private func recordSpoolGauges(_ decoder: EventDecoder) {
        metrics.spoolBytes.record(spool.byteCount)
        var age = 0.0
        if let first = try? spool.peek(max: 1).first, !first.isCorrupt, case .success(let e) = decoder.decode(first.value) {
            age = max(0, Double(WallClock.nowNanoseconds() - e.ts) / 1e9)
        }
        metrics.spoolOldestAge.record(age)
    }

    /// One step of the drainer, as the machine says: returns how long to wait before the next.
    private func drainOnce() async -> Duration {
        switch machine.withLock({ $0.nextDrainStep() }) {
        case .stop, .idle: return .milliseconds(100)
        case .awaitRound: return .milliseconds(20)  // nothing is produced again while in flight
        case .settleRound:
            settleRound()
            return .zero
        case .probe:
            // The brokers are known down: ask them; spooled events wait for an answer.
            guard (try? await producer.metadata(topic: configuration.topic, timeout: .seconds(1))) != nil else { return .milliseconds(500) }
            machine.withLock { $0.brokersAnswered() }
            return .zero
        case .produceRound:
            return produceRound()
        }
    }

    /// Produces the next round from the spool; the last one is handed over under the machine's lock.
    private func produceRound() -> Duration {
        // Let librdkafka's memory (older messages) empty first.
        if producer.outstandingCount > configuration.memoryQueueMessages / 2 { return .milliseconds(100) }
        do {
            // No more than librdkafka has room for, so a full queue never makes a round resend records.
            let room = Swift.max(1, Swift.min(2000, configuration.memoryQueueMessages - producer.outstandingCount))
            let records = try spool.peek(max: room)
            var batch: [InFlightRecord]
            if records.count < room {
                // What is left fits this round: take it under the machine's lock (no append can slip in),
                // send it, and publish directly from now on — what follows goes behind it in librdkafka's
                // queue. (Without this hand-over, a steady stream would keep the publisher spooling.)
                batch = machine.withLock { m -> [InFlightRecord] in
                    guard m.mode == .draining, let rest = try? spool.peek(max: room), rest.count < room else { return [] }
                    let (sent, complete) = produce(rest, &m)
                    if complete { m.handedOver() }
                    return sent
                }
            } else {
                batch = machine.withLock { m in produce(records, &m).sent }
            }
            guard !batch.isEmpty else { return .milliseconds(machine.withLock { $0.isSpooling } ? 100 : 0) }
            roundRecords.withLock { $0 = batch }
            if !batch.contains(where: { $0.id != nil }) { settleRound() }  // all set aside at once: settle now
            return .milliseconds(5)
        } catch {
            onError(error)
            return .milliseconds(500)
        }
    }

    private typealias InFlightRecord = (record: SpoolRecord, id: UInt64?, refused: (any GuardianError)?)

    /// Produces spooled records in order until librdkafka's queue is full, registering each in the
    /// machine's round under its lock (a delivery report can arrive before `produce` returns). Records
    /// Kafka refuses at once for good, and damaged ones, are kept in order to be set aside.
    /// `complete`: all were handled.
    private func produce(_ records: [SpoolRecord], _ m: inout PublisherStateMachine) -> (sent: [InFlightRecord], complete: Bool) {
        var batch: [InFlightRecord] = []
        for r in records {
            if r.isCorrupt {  // never sent; set aside in order
                batch.append((r, nil, SpoolError(.corrupt, "a damaged spool record (\(r.value.count) bytes) was skipped")))
                continue
            }
            let produced = Result(catching: { () throws(KafkaError) in
                try producer.produce(topic: configuration.topic, key: r.key, value: r.value,
                                     timestampMs: EventEncoder.timestampMilliseconds(ofEncoded: r.value))
            })
            switch produced {
            case .success(let id):
                m.roundProduced(id: id)
                batch.append((r, id, nil))
            case .failure(let error) where PublisherDeadLetters.isPermanent(error):
                batch.append((r, nil, error))  // refused at once (too large, …): set aside in order
            case .failure:
                return (batch, false)  // queue full: the rest waits for the next round
            }
        }
        return (batch, true)
    }

    /// Settles the round once each record has its report: delivered ones and ones refused for good
    /// (dead-lettered) leave the spool, in order, up to the first that failed transiently (it and what
    /// follows are produced again).
    private func settleRound() {
        let batch = roundRecords.withLock { r in defer { r = [] }; return r }
        let outcomes = machine.withLock { $0.settleRound() }
        var settledThrough: SpoolPosition?
        for entry in batch {
            if let refused = entry.refused {
                deadLetter(key: entry.record.isCorrupt ? nil : entry.record.key, value: entry.record.value, error: refused)
            } else if let id = entry.id, case .failed(let error)? = outcomes[id] {
                guard PublisherDeadLetters.isPermanent(error) else { break }
                deadLetter(key: entry.record.key, value: entry.record.value, error: error)
            }
            settledThrough = entry.record.end
        }
        if let settledThrough {
            do throws(SpoolError) { try spool.acknowledge(through: settledThrough) } catch { onError(error) }
        }
    }

    /// Waits until everything published so far is delivered (memory and spool), or throws `timeout`.
    /// Never returns while an event is held anywhere but in Kafka: a delivery that fails while this
    /// waits puts the event in the spool, and the wait goes on until the spool is delivered too.
    public func flush(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            while !handedOff || machine.withLock({ $0.isSpooling }) || !spool.isEmpty {
                if ContinuousClock.now >= deadline {
                    throw KafkaError(.timeout, "flush: \(spool.byteCount) spooled bytes still undelivered after \(timeout)")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            try await producer.flush(timeout: max(.milliseconds(1), deadline - ContinuousClock.now))
            // A failed report is handled (spooled) before librdkafka counts its message as gone.
            if handedOff && !machine.withLock({ $0.isSpooling }) && spool.isEmpty { return }
        }
    }

    /// Stops publishing: delivers for up to `timeout`, then moves whatever is still in memory to the
    /// spool (delivered on the next start). Later `publish` calls drop and report.
    public func close(timeout: Duration = .seconds(5)) async {
        ring.withLock { $0.closed = true }
        try? await flush(timeout: timeout)
        // What is still in the ring goes to Kafka's memory or the spool before the publisher closes.
        let handOffDeadline = ContinuousClock.now + .seconds(10)
        while !handedOff && ContinuousClock.now < handOffDeadline { try? await Task.sleep(for: .milliseconds(5)) }
        machine.withLock { $0.beginClosing() }
        // Stop the drainer and wait for it: nothing is acknowledged in the spool after this point.
        let task = drainer.withLock { t in defer { t = nil }; return t }
        task?.cancel()
        await task?.value
        if producer.outstandingCount > 0 {
            producer.purge()  // each purged message comes back as a failed report
            let deadline = ContinuousClock.now + .seconds(5)
            while producer.outstandingCount > 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        }
        let unreported = producer.outstandingCount
        // Everything Kafka did not acknowledge goes to the spool in the order it was produced (the ids
        // `produce` gave), in front of what was never produced: the last round from the spool and
        // what was sent directly after the drainer handed over interleave by that order, so a symbol's
        // events never go backwards across the restart.
        let round = roundRecords.withLock { r in defer { r = [] }; return r }
        let outcomes = machine.withLock { $0.settleRound() }
        var again: [(id: UInt64, key: [UInt8], value: [UInt8])] = []
        for entry in round {
            if let refused = entry.refused {
                deadLetter(key: entry.record.isCorrupt ? nil : entry.record.key, value: entry.record.value, error: refused)
                continue
            }
            guard let id = entry.id else { continue }
            switch outcomes[id] {
            case .delivered?: continue
            case .failed(let error)? where PublisherDeadLetters.isPermanent(error):
                deadLetter(key: entry.record.key, value: entry.record.value, error: error)
            default: again.append((id, entry.record.key, entry.record.value))  // purged or unanswered
            }
        }
        let direct = machine.withLock { $0.takePurged() }
        let ordered = (again + direct).sorted { $0.id < $1.id }.map { (key: $0.key, value: $0.value) }
        do throws(SpoolError) {
            try spool.prepend(ordered, replacingThrough: round.last?.record.end)
            machine.withLock { $0.closeSpooled(direct.count) }
            metrics.spooled.increment(by: direct.count)
        } catch {
            machine.withLock { $0.closeLost(direct.count) }
            metrics.dropped.increment(by: direct.count)
            onError(KafkaError(.closed, "\(direct.count) event(s): close() could not spool events Kafka had not acknowledged: \(error.message)"))
        }
        if unreported > 0 {  // not seen on a healthy librdkafka: purge reports come at the next poll
            machine.withLock { $0.unreportedAtClose(unreported) }
            metrics.failed.increment(by: unreported)
            onError(KafkaError(.closed, "\(unreported) message(s) were still in librdkafka's queue 5 s after close() purged them, with no delivery report: those that came from the spool were kept in it; events sent directly among them may be lost"))
        }
        spool.release()
    }
}

/// Breaks the reference cycle between the producer's callbacks and the publisher.
private final class WeakBox: @unchecked Sendable {
    weak var publisher: GuardianPublisher?
}

struct PublisherMetrics: Sendable {
    let published = Counter(label: "guardian_publisher_published_total")
    let delivered = Counter(label: "guardian_publisher_delivered_total")
    let failed = Counter(label: "guardian_publisher_failed_total")
    let spooled = Counter(label: "guardian_publisher_spooled_total")
    let dropped = Counter(label: "guardian_publisher_dropped_total")
    let rejected = Counter(label: "guardian_publisher_rejected_total")
    let deadLettered = Counter(label: "guardian_publisher_dead_lettered_total")
    let spoolBytes = Gauge(label: "guardian_publisher_spool_bytes")
    let spoolOldestAge = Gauge(label: "guardian_publisher_spool_oldest_age_seconds")
}

/// What `onError` receives when an event is set aside in the dead-letter file.
public struct PublisherDeadLetterNotice: GuardianError {
    public let code: String
    public let message: String
}

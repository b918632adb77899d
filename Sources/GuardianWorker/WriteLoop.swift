#if canImport(Glibc)
import Glibc
#endif
import GuardianKafka
import Synchronization

/// One lane of the worker's writer: takes its lane's queued batches from the state machine, one write
/// at a time and in order, and makes each durable (`DurableWriter`, its own database connection); then
/// marks it durable in the state machine (so the consumer loop commits it) and tells the cache link its
/// events are durable. The lanes own disjoint partitions, so they never wait on each other.
///
/// Woken by the consumer loop after each poll that queued something (a stream holding at most one
/// wake-up: backpressure is the state machine's byte bound, which pauses the partitions).
final class WriteLoop: Sendable {
    let lane: Int
    private let state: WorkerState
    private let writer: DurableWriter
    private let cache: CacheLink
    private let hooks: WorkerTestHooks
    /// The batch being written, visible to the rebalance callback.
    private let current = Mutex<InFlightWrite?>(nil)
    /// Set once the shutdown deadline passed: the in-flight write is abandoned.
    private let abandoned = Atomic<Bool>(false)
    private let wakes: AsyncStream<Void>
    private let waker: AsyncStream<Void>.Continuation

    /// Durable writes of every lane, for the crash test hook.
    private let durableWrites: DurableWriteCount

    init(lane: Int, state: WorkerState, writer: DurableWriter, cache: CacheLink, hooks: WorkerTestHooks, durableWrites: DurableWriteCount) {
        self.lane = lane
        self.durableWrites = durableWrites
        self.state = state
        self.writer = writer
        self.cache = cache
        self.hooks = hooks
        (wakes, waker) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// The write under way, if any.
    var currentWrite: InFlightWrite? { current.withLock { $0 } }
    /// True once shutdown gave up on the in-flight write.
    var isAbandoned: Bool { abandoned.load(ordering: .relaxed) }

    /// Something was queued.
    func wake() { waker.yield() }
    /// Nothing more will be queued: the loop ends after the queued writes (or when abandoned).
    func finish() { waker.finish() }
    /// Shutdown's deadline passed: the in-flight write stops retrying and nothing of it is committed.
    func abandon() { abandoned.store(true, ordering: .relaxed) }

    /// Writes until `finish()` (and the queue is empty) or `abandon()`.
    func run() async {
        for await _ in wakes {
            while let batch = state.machine.withLock({ $0.nextWrite(lane: lane) }) {
                let write = InFlightWrite(batch: batch)
                current.withLock { $0 = write }
                let start = ContinuousClock.now
                let result = await writer.write(write) { [self] in isAbandoned }
                var durable = false
                switch result {
                case .durable(let outcome):
                    durable = true
                    state.record(written: outcome, batch: batch.decoded, took: .now - start)
                    cache.durable(batch.decoded.events.map(\.event))
                    #if DEBUG
                    // The crash test hook exists in debug builds only (the tests run those).
                    let written = durableWrites.count.add(1, ordering: .relaxed).newValue
                    if let crashAfter = hooks.crashAfterDatabaseCommits, written >= crashAfter {
                        state.logger.critical("test hook: crashing after a database commit, before the offset commit")
                        kill(getpid(), SIGKILL)
                    }
                    #endif
                case .dropped:
                    state.count { $0.droppedBatches += 1 }
                    state.logger.notice("dropped a batch whose partitions this worker no longer owns (their next owner reads them again)",
                                        metadata: ["events": "\(batch.decoded.messageCount)"])
                case .stopped:
                    break
                }
                let buffered = state.machine.withLock { m in
                    m.writeFinished(lane: lane, durable: durable)
                    return m.bufferedBytes
                }
                write.finish(durable: durable)
                current.withLock { if $0 === write { $0 = nil } }
                state.metrics.bufferedBytes.record(buffered)
                state.updateHealth { $0.bufferedBytes = buffered }
                if case .stopped = result { return }
            }
        }
    }
}

/// Durable writes counted across the lanes.
final class DurableWriteCount: Sendable {
    let count = Atomic<Int>(0)
}

import Dispatch
import Synchronization

/// A batch whose database write is under way. The rebalance callback (on the consumer thread) can
/// wait for it, so a revoked partition's in-flight batch is finished and committed before the
/// partition moves — unless the write is failing (database down), when waiting would only hold up
/// the whole group's rebalance.
final class InFlightWrite: Sendable {
    let batch: PipelineBatch
    private let outcome = Mutex<Bool?>(nil)
    private let failingFlag = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(batch: PipelineBatch) { self.batch = batch }

    /// True while the write is retrying after a database failure.
    var isFailing: Bool {
        get { failingFlag.load(ordering: .relaxed) }
        set { failingFlag.store(newValue, ordering: .relaxed) }
    }

    /// Records the outcome once and wakes any waiter.
    func finish(durable: Bool) {
        let first = outcome.withLock { o -> Bool in
            if o != nil { return false }
            o = durable
            return true
        }
        if first { done.signal() }
    }

    /// Blocks the calling (non-cooperative) thread until the write finished or `timeout` passed;
    /// returns the outcome, or nil on timeout.
    func wait(timeout: Duration) -> Bool? {
        if let o = outcome.withLock({ $0 }) { return o }
        let ms = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard done.wait(timeout: .now() + .milliseconds(ms)) == .success else { return nil }
        done.signal()  // let another waiter through
        return outcome.withLock { $0 }
    }
}

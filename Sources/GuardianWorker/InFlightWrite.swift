import Dispatch
import Synchronization

/// A decoded batch whose database write is under way. The rebalance callback (on the consumer
/// thread) can wait for it, so a revoked partition's in-flight batch is finished and committed
/// before the partition moves.
final class InFlightWrite: Sendable {
    let batch: DecodedBatch
    private let outcome = Mutex<Bool?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(batch: DecodedBatch) { self.batch = batch }

    /// Whether the write became durable (false while unfinished or when it was abandoned).
    var isDurable: Bool { outcome.withLock { $0 } ?? false }

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
        let ms = Int(timeout.components.seconds * 1000)
        guard done.wait(timeout: .now() + .milliseconds(ms)) == .success else { return nil }
        done.signal()  // let another waiter through
        return outcome.withLock { $0 }
    }
}

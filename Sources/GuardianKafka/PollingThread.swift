import Dispatch
import Foundation
import Synchronization

/// A dedicated thread that calls `body` in a loop until stopped. Used to serve
/// librdkafka's callbacks (`rd_kafka_poll`) without touching the cooperative pool.
final class PollingThread: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the thread; `body` should block for a bounded time (e.g. poll with a 100 ms timeout).
    init(name: String, body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            while !self.stopping.load(ordering: .acquiring) { body() }
            self.finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Asks the loop to stop and waits until its current iteration has returned. Idempotent.
    func stop() {
        if stopping.exchange(true, ordering: .acquiringAndReleasing) { return }
        finished.wait()
    }
}

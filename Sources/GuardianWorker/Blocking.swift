import Dispatch
import Synchronization

/// Runs async work from a thread that must block for its result (librdkafka's rebalance callback).
enum Blocking {
    static func run<T: Sendable>(timeout: Duration, _ body: @escaping @Sendable () async throws -> T) -> Result<T, Error> {
        let box = Mutex<Result<T, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            let r: Result<T, Error>
            do { r = .success(try await body()) } catch { r = .failure(error) }
            box.withLock { $0 = r }
            done.signal()
        }
        let ms = Int(timeout.components.seconds * 1000)
        if done.wait(timeout: .now() + .milliseconds(ms)) == .timedOut {
            task.cancel()
            return .failure(WorkerError(.timeout, "no answer within \(timeout)"))
        }
        return box.withLock { $0 } ?? .failure(WorkerError(.timeout, "no answer"))
    }
}

import Foundation
import Synchronization

/// A serial executor backed by one dedicated OS thread.
///
/// Blocking C calls (librdkafka poll and commit, libpq, hiredis) must never run on
/// Swift's cooperative thread pool: a blocked pool thread stalls unrelated tasks.
/// Each C handle that is not thread-safe gets one `DedicatedThread`; every call into
/// that handle is submitted here, which also serialises access to the handle.
public final class DedicatedThread: @unchecked Sendable {
    // Guarded by `condition`.
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false
    private let condition = NSCondition()
    /// The thread's name, as shown by `top -H` and debuggers.
    public let name: String

    /// Starts a thread named `name`.
    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty {  // stopping, and every queued job has run
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job() }
        }
    }

    /// Enqueues `job` without waiting. Returns false when the thread is shutting down.
    @discardableResult
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Runs `body` on the dedicated thread and hands its result to the awaiting task.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = submit { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: DedicatedThreadStopped(name: name)) }
        }
    }

    /// Like `run`, but a cancelled caller stops waiting: it throws `CancellationError` at once while
    /// `body` (a blocking call that cannot be interrupted) finishes on the thread and its result is
    /// dropped. For background work that must not hold a shutdown open; never for a call whose
    /// outcome the caller must know.
    public func runAbandoningOnCancel<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let waiting = Mutex<CheckedContinuation<T, Error>?>(nil)
        @Sendable func take() -> CheckedContinuation<T, Error>? { waiting.withLock { c in defer { c = nil }; return c } }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                waiting.withLock { $0 = continuation }
                if Task.isCancelled {  // cancelled before the handler could see the continuation
                    take()?.resume(throwing: CancellationError())
                    return
                }
                let accepted = submit { let r = Result { try body() }; take()?.resume(with: r) }
                if !accepted { take()?.resume(throwing: DedicatedThreadStopped(name: name)) }
            }
        } onCancel: {
            take()?.resume(throwing: CancellationError())
        }
    }

    /// Lets the thread finish the jobs already queued, then exit. Later submissions are refused.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Thrown by `DedicatedThread.run` after `shutdown()`.
public struct DedicatedThreadStopped: Error, CustomStringConvertible {
    /// The name of the stopped thread.
    public let name: String
    public var description: String { "the thread '\(name)' has been shut down: its connection is closed" }
}

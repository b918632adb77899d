/// When a batch is complete: `maxEvents` messages, or `maxAge` after the poll for it began,
/// whichever comes first. librdkafka's batch consume enforces both in one call, so a message
/// waits at most `maxAge` in the worker before its batch is written.
public struct BatchPolicy: Sendable, Equatable {
    /// Default 5,000 (`GUARDIAN_BATCH_MAX_EVENTS`).
    public var maxEvents: Int
    /// Default 20 ms (`GUARDIAN_BATCH_MAX_AGE_MS`).
    public var maxAge: Duration

    public init(maxEvents: Int = 5000, maxAge: Duration = .milliseconds(20)) {
        self.maxEvents = max(1, maxEvents)
        self.maxAge = max(.milliseconds(1), maxAge)
    }
}

/// How the worker batches. No message waits for a batch to fill: a poll takes what is queued at once,
/// or, when nothing is, blocks up to `maxAge` for the first message and takes what arrived with it; the
/// batch goes to the writer at once, and what queues while a write is under way is written together
/// next. So batches grow with the load (and with a slow database) and stay small when it is light.
public struct BatchPolicy: Sendable, Equatable {
    /// The most messages one poll takes, and one database write (default 5,000, `GUARDIAN_BATCH_MAX_EVENTS`).
    public var maxEvents: Int
    /// The longest an idle poll blocks for the first message (default 20 ms, `GUARDIAN_BATCH_MAX_AGE_MS`);
    /// it never delays a message that has arrived.
    public var maxAge: Duration

    public init(maxEvents: Int = 5000, maxAge: Duration = .milliseconds(20)) {
        self.maxEvents = max(1, maxEvents)
        self.maxAge = max(.milliseconds(1), maxAge)
    }
}

import GuardianRedis
import GuardianStores
import Logging
import Synchronization

/// The worker's link to the Redis state cache. Redis being down must never stop persistence:
/// when a write fails the link drops the connection, reports the cache stale, and reconnects in the
/// background (every `retryInterval`) while the worker keeps persisting and committing.
final class CacheLink: Sendable {
    private struct State {
        var cache: StateCache?
        var reconnecting = false
        var stale = false
    }

    private let state = Mutex(State())
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let retryInterval: Duration

    init(configuration: RedisConfiguration, logger: Logger, retryInterval: Duration = .seconds(1)) {
        self.configuration = configuration
        self.logger = logger
        self.retryInterval = retryInterval
    }

    /// True while updates are being missed (Redis unreachable since the last failure).
    var isStale: Bool { state.withLock { $0.stale } }

    /// The cache when connected; nil (and a reconnect under way) otherwise.
    func current() -> StateCache? {
        let (cache, start) = state.withLock { s -> (StateCache?, Bool) in
            if let c = s.cache { return (c, false) }
            if s.reconnecting { return (nil, false) }
            s.reconnecting = true
            return (nil, true)
        }
        if start { startReconnecting() }
        return cache
    }

    /// A write failed: forget the connection and reconnect in the background.
    func failed(_ error: Error) {
        let start = state.withLock { s -> Bool in
            s.cache = nil
            s.stale = true
            if s.reconnecting { return false }
            s.reconnecting = true
            return true
        }
        logger.error("Redis state update failed; the cache is stale until Redis answers again (persistence continues)",
                     metadata: ["error": "\(error)"])
        if start { startReconnecting() }
    }

    private func startReconnecting() {
        Task.detached { [self] in
            while !Task.isCancelled {
                do {
                    let connection = try await RedisConnection.connect(configuration)
                    state.withLock { s in
                        s.cache = StateCache(connection: connection)
                        s.reconnecting = false
                    }
                    logger.notice("connected to Redis", metadata: ["redis": "\(configuration.address)"])
                    return
                } catch {
                    logger.debug("Redis still unreachable", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: retryInterval)
                }
            }
        }
    }

    /// A write succeeded. Returns true when the cache was stale until now (it missed updates).
    func succeeded() -> Bool {
        state.withLock { s in
            defer { s.stale = false }
            return s.stale
        }
    }
}

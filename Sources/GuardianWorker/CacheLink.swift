import GuardianEvents
import GuardianRedis
import GuardianStores
import Logging
import Synchronization

/// The worker's link to the Redis state cache. Redis being down must never stop persistence:
/// an update that cannot be applied marks the cache stale and is remembered (the newest event per
/// symbol), and the link reconnects in the background. On reconnect it re-syncs: the newest stored
/// row of every symbol from the database (Redis may have come back empty, or missed other workers'
/// updates), then the remembered events, all through the seq guard, so state never moves back; only
/// then is the cache fresh again. At start the database re-sync runs when `guardian:symbols` is empty.
/// Events are applied before their batch is durable (the cache stays live while the database is slow):
/// the newest applied event per symbol is kept until its row is durable, and a re-sync applies those
/// too — a Redis lost in between would otherwise get an older row from the database and keep it.
final class CacheLink: Sendable {
    private struct State {
        var cache: StateCache?
        var reconnecting = false
        /// True from the moment an update is missed (or Redis is unreachable at start) until a re-sync finished.
        var stale = true
        /// Whether a connection was ever made (the first one re-syncs only when Redis is empty).
        var everConnected = false
        /// The newest event per symbol whose update was missed.
        var missed: [String: GuardianEvent] = [:]
        /// The newest event per symbol applied to Redis whose row is not known durable yet.
        var undurable: [String: GuardianEvent] = [:]
        /// The newest event per symbol handed over by `enqueue` and not applied yet.
        var pending: [String: GuardianEvent] = [:]
    }

    /// Reads the newest stored event of every symbol (the database side of a re-sync).
    typealias LatestRows = @Sendable () async throws -> [GuardianEvent]

    private let state = Mutex(State())
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let retryInterval: Duration
    private let latestRows: LatestRows
    private let onChange: @Sendable (_ connected: Bool, _ stale: Bool, _ error: String?) -> Void

    init(
        configuration: RedisConfiguration, logger: Logger, retryInterval: Duration = .seconds(1),
        latestRows: @escaping LatestRows, onChange: @escaping @Sendable (_ connected: Bool, _ stale: Bool, _ error: String?) -> Void = { _, _, _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.retryInterval = retryInterval
        self.latestRows = latestRows
        self.onChange = onChange
    }

    /// True while the cache may lag what was consumed (updates missed, re-sync pending).
    var isStale: Bool { state.withLock { $0.stale } }

    private let (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    /// Hands `events` to `run()` and returns at once: the consumer loop never waits for Redis. While a
    /// round trip is under way, what arrives is merged (the newest event per symbol) into the next one.
    func enqueue(_ events: [GuardianEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { s in
            for e in events where (s.pending[e.symbol]?.seq ?? -1) < e.seq { s.pending[e.symbol] = e }
        }
        signal.yield()
    }

    /// The link's one task, until it is cancelled: connects (and re-syncs) whenever there is no live
    /// connection, and applies what `enqueue` handed over, in order; `applied` gets each round trip's
    /// duration, `failed` is called for each write Redis refused or lost (its events are remembered for
    /// the re-sync). While it reconnects, what arrives is remembered, never waited for.
    func run(applied: @Sendable (Duration) -> Void, failed: @Sendable () -> Void) async {
        await withTaskCancellationHandler {
            for await _ in signals {
                if state.withLock({ $0.reconnecting }) {
                    await reconnect()
                    if Task.isCancelled { return }
                }
                while true {
                    let next = state.withLock { s -> [GuardianEvent] in
                        defer { s.pending.removeAll(keepingCapacity: true) }
                        return Array(s.pending.values)
                    }
                    if next.isEmpty { break }
                    switch await apply(next) {
                    case .applied(let t): applied(t)
                    case .failed: failed()
                    case .remembered: break
                    }
                }
            }
        } onCancel: {
            signal.finish()
        }
    }

    /// Asks `run()` to connect (and re-sync) before it applies anything.
    func start() {
        let start = state.withLock { s -> Bool in
            if s.reconnecting || s.cache != nil { return false }
            s.reconnecting = true
            return true
        }
        if start {
            onChange(false, isStale, "not connected yet")
            signal.yield()
        }
    }

    /// How one `apply` went.
    enum Applied {
        /// Written; the Redis round trip took this long.
        case applied(Duration)
        /// Not connected (or re-syncing): remembered for the re-sync, no write tried.
        case remembered
        /// The write failed: remembered for the re-sync.
        case failed
    }

    /// Applies the newest event per symbol of `events`; when Redis is unreachable they are remembered
    /// for the re-sync.
    func apply(_ events: [GuardianEvent]) async -> Applied {
        guard !events.isEmpty else { return .remembered }
        guard let cache = state.withLock({ $0.cache }) else {
            remember(events)
            return .remembered
        }
        let start = ContinuousClock.now
        do {
            try await cache.apply(events)
            state.withLock { s in
                for e in StateCache.latestPerSymbol(events) where (s.undurable[e.symbol]?.seq ?? -1) < e.seq { s.undurable[e.symbol] = e }
            }
            return .applied(ContinuousClock.now - start)
        } catch {
            remember(events)
            failed(error)
            return .failed
        }
    }

    /// `events` are durable in the database: a re-sync finds them there.
    func durable(_ events: [GuardianEvent]) {
        guard !events.isEmpty else { return }
        let newest = StateCache.latestPerSymbol(events)
        state.withLock { s in
            guard !s.undurable.isEmpty else { return }
            for e in newest where (s.undurable[e.symbol]?.seq ?? .max) <= e.seq { s.undurable[e.symbol] = nil }
        }
    }

    private func remember(_ events: [GuardianEvent]) {
        state.withLock { s in
            s.stale = true
            for e in StateCache.latestPerSymbol(events) where (s.missed[e.symbol]?.seq ?? -1) < e.seq { s.missed[e.symbol] = e }
        }
    }

    /// A write failed: forget the connection; `run()` reconnects (and re-syncs) next.
    private func failed(_ error: Error) {
        state.withLock { s in
            s.cache = nil
            s.stale = true
            s.reconnecting = true
        }
        onChange(false, true, "\(error)")
        logger.error("Redis state update failed; the cache is stale until Redis answers again and is re-synced (persistence continues)",
                     metadata: ["error": "\(error)"])
        signal.yield()
    }

    /// Connects and re-syncs, retrying every `retryInterval`, until it succeeds or the task is
    /// cancelled. Events enqueued meanwhile wait in `pending` (the newest per symbol) and are applied
    /// once the link is live; the re-sync covers what was missed before.
    private func reconnect() async {
        var lastAuthError: String?
        while !Task.isCancelled {
            do {
                let connection = try await RedisConnection.connect(configuration)
                let cache = StateCache(connection: connection)
                let synced = try await resync(cache)
                logger.notice("connected to Redis; state cache in sync", metadata: [
                    "redis": "\(configuration.address)", "resynced_symbols": "\(synced)"])
                onChange(true, false, nil)
                return
            } catch {
                // Refused credentials are a configuration error: said once at error level (retrying
                // goes on, in case the credentials are being rotated); other failures are routine.
                if let e = error as? RedisError, e.kind == .auth {
                    if lastAuthError != e.message {
                        logger.error("Redis refused to authenticate; the cache is not written until this is fixed (persistence continues)",
                                     metadata: ["error": "\(e)"])
                        lastAuthError = e.message
                    }
                } else {
                    logger.debug("Redis not usable yet", metadata: ["error": "\(error)"])
                }
                onChange(false, isStale, "\(error)")
                try? await Task.sleep(for: retryInterval)
            }
        }
    }

    /// Brings a fresh connection's cache up to date, then makes it the live one. Returns the number
    /// of symbols written.
    private func resync(_ cache: StateCache) async throws -> Int {
        let first = state.withLock { !$0.everConnected }
        var written = 0
        let empty = (try await cache.connection.command(["SCARD", StateCache.symbolsKey]).integer ?? 0) == 0
        if !first || empty {
            let rows = try await latestRows()
            for chunk in stride(from: 0, to: rows.count, by: 1000) {
                try Task.checkCancellation()  // shutdown: stop between chunks
                written += try await cache.apply(rows[chunk..<min(rows.count, chunk + 1000)])
            }
        }
        // Updates applied to the lost Redis whose rows are not durable yet: the database does not have them.
        let undurable = state.withLock { Array($0.undurable.values) }
        if !undurable.isEmpty { written += try await cache.apply(undurable) }
        // Updates missed meanwhile (some may arrive while this runs): apply until none is left, then go live.
        while true {
            let missed = state.withLock { s -> [GuardianEvent]? in
                if s.missed.isEmpty {
                    s.cache = cache
                    s.reconnecting = false
                    s.stale = false
                    s.everConnected = true
                    return nil
                }
                defer { s.missed.removeAll() }
                return Array(s.missed.values)
            }
            guard let missed else { return written }
            do {
                written += try await cache.apply(missed)
            } catch {
                remember(missed)
                throw error
            }
        }
    }
}

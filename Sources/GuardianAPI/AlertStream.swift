import Foundation
import GuardianEvents
import GuardianPostgres
import GuardianStores
import Logging
import ServiceLifecycle
import Synchronization

/// Alerts as they become durable, for `/v1/alerts/stream`: listens on `AlertNotice.channel` (the
/// writers notify inside the transaction that stores alert events, so only stored alerts are
/// announced), reads the announced rows and hands each alert once to every subscriber. After the
/// listening connection is lost it reconnects and reads what was stored meanwhile (alerts from five
/// minutes before the connection was lost, or before the last one it saw), deduplicated by event id. A service of `guardian api`.
final class AlertStream: Service, Sendable {
    /// What a subscriber receives.
    enum Item: Sendable, Equatable {
        case alert(Alert)
        /// Nothing happened for a while: a comment keeps proxies from closing an idle stream.
        case keepAlive

        var serverSentEvent: String {
            switch self {
            case .alert(let a): a.serverSentEvent
            case .keepAlive: ": keep-alive\n\n"
            }
        }
    }

    private struct State {
        var subscribers: [Int: AsyncStream<Item>.Continuation] = [:]
        var nextSubscriber = 0
        var finished = false
        /// Event ids announced recently, oldest first: a redelivered batch announces its alerts again.
        var seen = Set<EventID>()
        var seenOrder: [EventID] = []
        /// The newest alert time seen (microseconds), where a reconnect catches up from.
        var newestMicros: Int64?
        var listening = false
        /// Fleet alerts are not stored: the newest are kept here for `/v1/alerts`.
        var recentFleet: [Alert] = []
    }

    private let configuration: PostgresConfiguration
    private let pool: DatabasePool
    private let logger: Logger
    private let keepAliveEvery: Duration
    private let state = Mutex(State())
    /// Alerts a slow subscriber may have pending before the oldest are dropped (it can resume with `Last-Event-ID`).
    static let subscriberBuffer = 1_000
    static let seenCapacity = 100_000

    init(configuration: PostgresConfiguration, pool: DatabasePool, logger: Logger, keepAliveEvery: Duration = .seconds(15)) {
        self.configuration = configuration
        self.pool = pool
        self.logger = logger
        self.keepAliveEvery = keepAliveEvery
    }

    /// A new subscriber's id and messages; nil once the service has stopped.
    func subscribe(buffer: Int = subscriberBuffer) -> (id: Int, messages: AsyncStream<Item>)? {
        let (stream, continuation) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(buffer))
        let id: Int? = state.withLock { s in
            guard !s.finished else { return nil }
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = continuation
            return s.nextSubscriber
        }
        guard let id else { return nil }
        return (id, stream)
    }

    func unsubscribe(_ id: Int) {
        state.withLock { $0.subscribers.removeValue(forKey: id) }?.finish()
    }

    /// Whether the listening connection is up (alerts stored now are streamed).
    var isListening: Bool { state.withLock { $0.listening } }

    /// Hands the alert events not seen before to every subscriber.
    func publish(_ events: [GuardianEvent]) {
        state.withLock { s in
            for e in events where s.seen.insert(e.eventID).inserted {
                s.seenOrder.append(e.eventID)
                if s.seenOrder.count >= 2 * Self.seenCapacity {
                    // Forget the older half at once (amortized O(1) per alert).
                    s.seenOrder.prefix(Self.seenCapacity).forEach { s.seen.remove($0) }
                    s.seenOrder.removeFirst(Self.seenCapacity)
                }
                s.newestMicros = max(s.newestMicros ?? .min, e.ts / 1000)
                let item = Item.alert(Alert(event: e))
                for c in s.subscribers.values { c.yield(item) }
            }
        }
    }

    static let fleetCapacity = 500

    /// Hands fleet alerts to every subscriber and keeps the newest for `recentFleet`.
    func publish(fleet alerts: [Alert]) {
        guard !alerts.isEmpty else { return }
        state.withLock { s in
            s.recentFleet += alerts
            if s.recentFleet.count > Self.fleetCapacity { s.recentFleet.removeFirst(s.recentFleet.count - Self.fleetCapacity) }
            for a in alerts { for c in s.subscribers.values { c.yield(.alert(a)) } }
        }
    }

    /// Fleet alerts seen by this API since `sinceMicros`, newest first.
    func recentFleet(sinceMicros: Int64) -> [Alert] {
        state.withLock { $0.recentFleet.filter { $0.tsMicros >= sinceMicros }.reversed() }
    }

    private func broadcast(_ message: Item) {
        state.withLock { s in for c in s.subscribers.values { c.yield(message) } }
    }

    private func finish() {
        let subscribers = state.withLock { s in
            s.finished = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        subscribers.forEach { $0.finish() }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await listen()
        } onGracefulShutdown: {
            self.finish()
        }
        finish()
    }

    private var stopping: Bool { Task.isCancelled || state.withLock { $0.finished } }

    private func listen() async {
        var lastKeepAlive = ContinuousClock.now
        var lostAtMicros: Int64?
        while !stopping {
            do {
                let connection = try await PostgresConnection.connect(configuration)
                try await connection.execute("LISTEN \(AlertNotice.channel)")
                defer { state.withLock { $0.listening = false } }
                state.withLock { $0.listening = true }
                if let lost = lostAtMicros {
                    // Listening again: what was stored while nobody listened.
                    let since = min(lost, state.withLock { $0.newestMicros } ?? lost) - 300_000_000
                    let missed = try await pool.run { try await EventQueries(connection: $0).alertEvents(sinceMicros: since, limit: 1000) }
                    publish(missed.reversed())
                    lostAtMicros = nil
                }
                while !stopping {
                    let notes = try await connection.withSession { try $0.notifications(waitingUpTo: .milliseconds(250)) }
                    let cursors = notes.filter { $0.channel == AlertNotice.channel }.flatMap { AlertNotice.cursors(in: $0.payload) }
                    if !cursors.isEmpty {
                        publish(try await pool.run { try await EventQueries(connection: $0).alerts(at: cursors) })
                    }
                    if ContinuousClock.now - lastKeepAlive >= keepAliveEvery {
                        broadcast(.keepAlive)
                        lastKeepAlive = .now
                    }
                }
            } catch {
                guard !stopping else { return }
                if lostAtMicros == nil { lostAtMicros = Int64(Date().timeIntervalSince1970 * 1_000_000) }
                logger.warning("listening for alerts failed; retrying in 1 s", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

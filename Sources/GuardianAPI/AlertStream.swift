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
    /// One Server-Sent Events message.
    struct Message: Sendable, Equatable {
        /// The SSE `id` (`<micros>_<event id>`, what `Last-Event-ID` resumes from); nil for a keep-alive.
        var id: String?
        /// The serialized SSE message.
        var text: String

        static let keepAlive = Message(id: nil, text: ": keep-alive\n\n")

        init(id: String?, text: String) {
            self.id = id
            self.text = text
        }

        /// An alert event as an SSE `alert` message, its data the JSON of `/v1/alerts`.
        init(alert e: GuardianEvent) {
            let id = EventQueries.Cursor(tsMicros: e.ts / 1000, eventID: e.eventID).description
            let data = (try? JSONSerialization.data(withJSONObject: JSONDocument.alert(e), options: [.sortedKeys]))
                .flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
            self.init(id: id, text: "id: \(id)\nevent: alert\ndata: \(data)\n\n")
        }
    }

    private struct State {
        var subscribers: [Int: AsyncStream<Message>.Continuation] = [:]
        var nextSubscriber = 0
        var finished = false
        /// Event ids announced recently, oldest first: a redelivered batch announces its alerts again.
        var seen = Set<EventID>()
        var seenOrder: [EventID] = []
        /// The newest alert time seen (microseconds), where a reconnect catches up from.
        var newestMicros: Int64?
        var listening = false
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
    func subscribe() -> (id: Int, messages: AsyncStream<Message>)? {
        let (stream, continuation) = AsyncStream.makeStream(of: Message.self, bufferingPolicy: .bufferingNewest(Self.subscriberBuffer))
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

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Whether the listening connection is up (alerts stored now are streamed).
    var isListening: Bool { state.withLock { $0.listening } }

    /// Hands `events` not seen before to every subscriber.
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
                let message = Message(alert: e)
                for c in s.subscribers.values { c.yield(message) }
            }
        }
    }

    private func broadcast(_ message: Message) {
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

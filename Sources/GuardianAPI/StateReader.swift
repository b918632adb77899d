import Foundation
import GuardianEvents
import GuardianRedis
import GuardianStores
import Synchronization

/// A symbol's latest state: from Redis (`source: redis`); when Redis does not answer (or holds no
/// state for the symbol), from the database (`source: timescaledb`). After a failure Redis is not
/// tried again for `retryAfter`, so a Redis that is down costs no connect timeout per request.
/// Requests are spread over `connections` Redis connections (each runs one command at a time).
final class StateReader: Sendable {
    let configuration: RedisConfiguration
    private let slots: Mutex<[RedisConnection?]>
    private let next = Atomic<Int>(0)
    let downUntil = Mutex<ContinuousClock.Instant?>(nil)
    let retryAfter: Duration

    init(configuration: RedisConfiguration, retryAfter: Duration = .seconds(1), connections: Int = 4) {
        self.configuration = configuration
        self.retryAfter = retryAfter
        slots = Mutex(Array(repeating: nil, count: max(1, connections)))
    }

    /// A connection of the pool (connected on first use).
    private func connection() async throws -> RedisConnection {
        let count = slots.withLock { $0.count }
        let i = next.add(1, ordering: .relaxed).oldValue % count
        if let c = slots.withLock({ $0[i] }) { return c }
        let c = try await RedisConnection.connect(configuration)
        slots.withLock { $0[i] = c }
        return c
    }

    /// After a failure: every connection is dropped, and Redis is left alone for `retryAfter`.
    private func failed() {
        slots.withLock { $0 = Array(repeating: nil, count: $0.count) }
        downUntil.withLock { $0 = .now + retryAfter }
    }

    /// The state hash of `symbol` as an event, nil when Redis is down or has none.
    func fromRedis(symbol: String) async -> GuardianEvent? {
        if let until = downUntil.withLock({ $0 }), ContinuousClock.now < until { return nil }
        do {
            let redis = try await connection()
            let reply = try await redis.command(["HGETALL", StateCache.stateKey(symbol)])
            guard let items = reply.array, !items.isEmpty else { return nil }
            var fields: [String: String] = [:]
            var i = 0
            while i + 1 < items.count {
                if let k = items[i].string, let v = items[i + 1].string { fields[k] = v }
                i += 2
            }
            return Self.event(fields)
        } catch {
            failed()
            return nil
        }
    }

    /// The Redis hash (v1 field names, numbers as decimal text) as an event; nil when a required field is missing.
    static func event(_ f: [String: String]) -> GuardianEvent? {
        guard let id = f["event_id"].flatMap({ EventID($0) }), let symbol = f["symbol"], let seq = f["seq"].flatMap({ Int64($0) }),
              let ts = f["ts"].flatMap({ Int64($0) }), let kind = f["kind"].flatMap(EventKind.init(rawValue:))
        else { return nil }
        func double(_ k: String) -> Double? { f[k].flatMap { Double($0) } }
        return GuardianEvent(
            eventID: id, symbol: symbol, seq: seq, ts: ts, kind: kind, decision: f["decision"].flatMap(Decision.init(rawValue:)),
            reason: f["reason"], side: f["side"].flatMap(Side.init(rawValue:)), qty: double("qty"), price: double("price"),
            position: double("position"), exposure: double("exposure"), realizedPnl: double("realized_pnl"),
            unrealizedPnl: double("unrealized_pnl"), latencyUs: f["latency_us"].flatMap { Int64($0) }, attrs: f["attrs"])
    }
}

extension StateReader {
    /// Whether Redis answers a PING now.
    func isReachable() async -> Bool {
        if let until = downUntil.withLock({ $0 }), ContinuousClock.now < until { return false }
        do {
            let redis = try await connection()
            return try await redis.command(["PING"]).string == "PONG"
        } catch {
            failed()
            return false
        }
    }
}

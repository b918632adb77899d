import Foundation
import GuardianRedis
import GuardianStores
import Synchronization

/// A symbol's latest state: from Redis (`source: redis`); when Redis does not answer (or holds no
/// state for the symbol), from the database (`source: timescaledb`). After a failure Redis is not
/// tried again for `retryAfter`, so a Redis that is down costs no connect timeout per request.
final class StateReader: Sendable {
    let configuration: RedisConfiguration
    let connection = Mutex<RedisConnection?>(nil)
    let downUntil = Mutex<ContinuousClock.Instant?>(nil)
    let retryAfter: Duration

    init(configuration: RedisConfiguration, retryAfter: Duration = .seconds(1)) {
        self.configuration = configuration
        self.retryAfter = retryAfter
    }

    /// The state hash of `symbol` as the API shows it, nil when Redis is down or has none.
    func fromRedis(symbol: String) async -> [String: Any]? {
        if let until = downUntil.withLock({ $0 }), ContinuousClock.now < until { return nil }
        do {
            let redis: RedisConnection
            if let c = connection.withLock({ $0 }) { redis = c } else {
                redis = try await RedisConnection.connect(configuration)
                connection.withLock { $0 = redis }
            }
            let reply = try await redis.command(["HGETALL", StateCache.stateKey(symbol)])
            guard let items = reply.array, !items.isEmpty else { return nil }
            var fields: [String: String] = [:]
            var i = 0
            while i + 1 < items.count {
                if let k = items[i].string, let v = items[i + 1].string { fields[k] = v }
                i += 2
            }
            return Self.state(fields)
        } catch {
            connection.withLock { $0 = nil }
            downUntil.withLock { $0 = .now + retryAfter }
            return nil
        }
    }

    /// The Redis hash (v1 field names, numbers as decimal text) in the API's shape.
    static func state(_ f: [String: String]) -> [String: Any]? {
        guard let symbol = f["symbol"], let seq = f["seq"].flatMap({ Int64($0) }), let ts = f["ts"].flatMap({ Int64($0) }) else { return nil }
        func double(_ k: String) -> Any { f[k].flatMap { Double($0) } ?? NSNull() }
        return [
            "event_id": JSONDocument.value(f["event_id"]), "symbol": symbol, "seq": seq, "ts": JSONDocument.time(nanos: ts),
            "kind": JSONDocument.value(f["kind"]), "decision": JSONDocument.value(f["decision"]), "reason": JSONDocument.value(f["reason"]),
            "side": JSONDocument.value(f["side"]), "qty": double("qty"), "price": double("price"), "position": double("position"),
            "exposure": double("exposure"), "realized_pnl": double("realized_pnl"), "unrealized_pnl": double("unrealized_pnl"),
            "latency_us": JSONDocument.value(f["latency_us"].flatMap { Int64($0) }),
            "attrs": JSONDocument.value(f["attrs"].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed]) }),
        ]
    }
}

extension StateReader {
    /// Whether Redis answers a PING now.
    func isReachable() async -> Bool {
        if let until = downUntil.withLock({ $0 }), ContinuousClock.now < until { return false }
        do {
            let redis: RedisConnection
            if let c = connection.withLock({ $0 }) { redis = c } else {
                redis = try await RedisConnection.connect(configuration)
                connection.withLock { $0 = redis }
            }
            return try await redis.command(["PING"]).string == "PONG"
        } catch {
            connection.withLock { $0 = nil }
            downUntil.withLock { $0 = .now + retryAfter }
            return false
        }
    }
}

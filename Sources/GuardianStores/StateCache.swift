import Foundation
import GuardianEvents
import GuardianRedis

/// The real-time cache in Redis: `guardian:state:<symbol>` is a hash holding the latest event's
/// fields under their v1 names (numbers as decimal strings, null fields absent), updated only when
/// the incoming `seq` is newer, so a replay never moves state backwards; `guardian:symbols` is the
/// set of symbols seen. One script call per symbol per batch, all in one pipeline.
public struct StateCache: Sendable {
    public static let symbolsKey = "guardian:symbols"

    /// The state hash's key for `symbol`.
    public static func stateKey(_ symbol: String) -> String { "guardian:state:\(symbol)" }

    /// KEYS[1] = state hash. ARGV[1] = seq (decimal digits), ARGV[2] = how many fields to delete (k),
    /// ARGV[3 .. 2+k] = those fields, then field/value pairs to set. seq values are compared as
    /// digit strings: Lua numbers are doubles and would round int64 values.
    static let script = RedisScript("""
        local cur = redis.call('HGET', KEYS[1], 'seq')
        local new = ARGV[1]
        if cur and (#cur > #new or (#cur == #new and cur >= new)) then return 0 end
        local k = tonumber(ARGV[2])
        if k > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3, 2 + k)) end
        redis.call('HSET', KEYS[1], 'seq', new, unpack(ARGV, 3 + k))
        return 1
        """)

    public let connection: RedisConnection

    public init(connection: RedisConnection) {
        self.connection = connection
    }

    /// The newest event per symbol among `events` (highest seq).
    public static func latestPerSymbol<S: Sequence>(_ events: S) -> [GuardianEvent] where S.Element == GuardianEvent {
        var latest: [String: GuardianEvent] = [:]
        for e in events where (latest[e.symbol]?.seq ?? -1) < e.seq { latest[e.symbol] = e }
        return Array(latest.values)
    }

    /// The script arguments for one event.
    static func arguments(_ e: GuardianEvent) -> [String] {
        var set: [String] = []
        var delete: [String] = []
        func put(_ name: String, _ value: String?) {
            if let value { set.append(name); set.append(value) } else { delete.append(name) }
        }
        put("event_id", e.eventID.description)
        put("symbol", e.symbol)
        put("ts", String(e.ts))
        put("kind", e.kind.rawValue)
        put("decision", e.decision?.rawValue)
        put("reason", e.reason)
        put("side", e.side?.rawValue)
        put("qty", e.qty.map(DecimalText.string))
        put("price", e.price.map(DecimalText.string))
        put("position", e.position.map(DecimalText.string))
        put("exposure", e.exposure.map(DecimalText.string))
        put("realized_pnl", e.realizedPnl.map(DecimalText.string))
        put("unrealized_pnl", e.unrealizedPnl.map(DecimalText.string))
        put("latency_us", e.latencyUs.map { String($0) })
        put("attrs", e.attrs)
        return [String(e.seq), String(delete.count)] + delete + set
    }

    /// Applies the newest event per symbol of `events`. Returns how many symbols moved forward.
    @discardableResult
    public func apply<S: Sequence>(_ events: S) async throws -> Int where S.Element == GuardianEvent {
        let latest = Self.latestPerSymbol(events)
        guard !latest.isEmpty else { return 0 }
        var sha = try await connection.scriptSHA(Self.script)
        var replies: [RedisValue] = []
        // Redis lost its script cache (a restart, SCRIPT FLUSH): load again and retry, a few times, as
        // another client may flush again in between. The seq guard makes a repeated update harmless.
        for attempt in 1...3 {
            var commands: [[String]] = latest.map { e in ["EVALSHA", sha, "1", Self.stateKey(e.symbol)] + Self.arguments(e) }
            commands.append(["SADD", Self.symbolsKey] + latest.map(\.symbol))
            replies = try await connection.pipeline(commands)
            let lost = replies.contains { if case .error(let t) = $0 { t.hasPrefix("NOSCRIPT") } else { false } }
            if !lost || attempt == 3 { break }
            sha = try await connection.scriptSHA(Self.script, reload: true)
        }
        var moved = 0
        for reply in replies.dropLast() {
            if case .error(let text) = reply { throw RedisError(.server, "state update: \(text)") }
            moved += Int(reply.integer ?? 0)
        }
        return moved
    }
}

/// Numbers as plain decimal strings (no exponent), the form the state hash documents.
enum DecimalText {
    static func string(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v < 0 ? "-Infinity" : "Infinity") }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        let d = v.description
        guard d.contains("e") else { return d }
        // Expand the exponent form; 17 significant digits round-trip a Double.
        var text = String(format: "%.17f", v)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GuardianEvents
import Hummingbird

/// The API's JSON: snake_case names, RFC 3339 times (UTC, microseconds), absent values as null.
enum JSONDocument {
    /// `nanos` since the epoch as RFC 3339 with microseconds, e.g. `2026-12-02T21:44:46.123456Z`.
    static func time(nanos: Int64) -> String { time(micros: nanos / 1000) }

    static func time(micros: Int64) -> String { EventJSON.time(micros: micros) }

    /// An RFC 3339 time as microseconds since the epoch, exactly (Foundation's formatter keeps milliseconds).
    static func micros(_ text: String) -> Int64? { RFC3339.micros(text) }

    static func value(_ v: Any?) -> Any { v ?? NSNull() }

    /// An event as the API shows it.
    static func event(_ e: GuardianEvent) -> [String: Any] {
        [
            "event_id": e.eventID.description, "symbol": e.symbol, "seq": e.seq, "ts": time(nanos: e.ts), "kind": e.kind.rawValue,
            "decision": value(e.decision?.rawValue), "reason": value(e.reason), "side": value(e.side?.rawValue),
            "qty": value(e.qty), "price": value(e.price), "position": value(e.position), "exposure": value(e.exposure),
            "realized_pnl": value(e.realizedPnl), "unrealized_pnl": value(e.unrealizedPnl), "latency_us": value(e.latencyUs),
            "attrs": value(e.attrs.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed]) }),
        ]
    }

    /// An alert event as `/v1/alerts` and `/v1/alerts/stream` show it.
    static func alert(_ e: GuardianEvent) -> [String: Any] {
        ["id": e.eventID.description, "type": e.kind.rawValue, "symbol": e.symbol, "ts": time(nanos: e.ts),
         "reason": value(e.reason), "event": event(e)]
    }

    /// A 200 (or `status`) response holding `body` as JSON.
    static func response(_ body: [String: Any], status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

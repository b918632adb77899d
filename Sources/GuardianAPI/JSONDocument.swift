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

    static func time(micros: Int64) -> String {
        var seconds = time_t(micros / 1_000_000)
        var fraction = micros % 1_000_000
        if fraction < 0 {
            fraction += 1_000_000
            seconds -= 1
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
    }

    /// An RFC 3339 time (or a date-time with a zone) as microseconds since the epoch.
    static func micros(_ text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: text) { return Int64((d.timeIntervalSince1970 * 1_000_000).rounded()) }
        formatter.formatOptions = [.withInternetDateTime]
        if let d = formatter.date(from: text) { return Int64((d.timeIntervalSince1970 * 1_000_000).rounded()) }
        return nil
    }

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

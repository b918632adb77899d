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

    /// A 200 (or `status`) response holding `body` as JSON.
    static func response(_ body: [String: Any], status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

import Foundation
import GuardianEvents
import GuardianStores

/// One alert as the API shows, streams and posts it: a stored alert event (a risk breach, a
/// circuit-breaker trip) or a fleet condition (lag STALL/STOP/REWIND and recovery, Redis down/up,
/// new dead letters).
struct Alert: Sendable, Equatable {
    /// The event id, or `fleet_<micros>_<type>`.
    var id: String
    /// `risk_breach`, `circuit_breaker`, or a fleet type (`FleetAlertRules.types`).
    var type: String
    var symbol: String?
    /// Microseconds since the epoch: the event's time, or when the fleet condition was seen.
    var tsMicros: Int64
    var reason: String?
    /// Where `Last-Event-ID` resumes from (event alerts only: fleet alerts are not stored).
    var cursor: String?
    /// The JSON of `/v1/alerts` (sorted keys).
    var json: String

    init(event e: GuardianEvent) {
        id = e.eventID.description
        type = e.kind.rawValue
        symbol = e.symbol
        tsMicros = e.ts / 1000
        reason = e.reason
        cursor = EventQueries.Cursor(tsMicros: tsMicros, eventID: e.eventID).description
        var text = #"{"event":"#
        EventJSON.append(e, to: &text)
        text += #","id":""# + id + #"","reason":"#
        EventJSON.string(e.reason, &text)
        text += #","symbol":"#
        EventJSON.string(e.symbol, &text)
        text += #","ts":""# + EventJSON.time(micros: tsMicros) + #"","type":""# + type + #""}"#
        json = text
    }

    init(fleet type: String, tsMicros: Int64, detail: String, group: String, topic: String) {
        id = "fleet_\(tsMicros)_\(type)"
        self.type = type
        symbol = nil
        self.tsMicros = tsMicros
        reason = detail
        cursor = nil
        json = Self.serialize([
            "id": id, "type": type, "symbol": NSNull(), "ts": JSONDocument.time(micros: tsMicros), "reason": detail,
            "event": NSNull(), "fleet": ["group": group, "topic": topic],
        ])
    }

    var isFleet: Bool { cursor == nil }

    /// The SSE message: `event: alert`, the cursor as `id` (none for fleet alerts, so a client's
    /// `Last-Event-ID` stays on the last stored alert), the JSON as `data`.
    var serverSentEvent: String {
        (cursor.map { "id: \($0)\n" } ?? "") + "event: alert\ndata: \(json)\n\n"
    }

    private static func serialize(_ object: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }
}

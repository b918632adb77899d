import GuardianEvents

/// The announcement of stored alert events (risk breaches, circuit-breaker trips): `pg_notify` on
/// channel `guardian_alerts`, sent inside the transaction that stores them, so PostgreSQL delivers it
/// only when they are committed — nothing is announced that is not stored. The payload lists the
/// events as `EventQueries.Cursor`s (`<micros>_<event id>`, comma-separated); listeners read the rows
/// by that key. A redelivered batch announces its events again: listeners deduplicate by event id.
public enum AlertNotice {
    /// The `LISTEN` channel.
    public static let channel = "guardian_alerts"
    /// The kinds that are alerts.
    public static let kinds: Set<EventKind> = [.riskBreach, .circuitBreaker]
    /// PostgreSQL refuses payloads of 8000 bytes or more; each statement stays under this.
    static let maxPayloadBytes = 7_000

    /// The `SELECT pg_notify(…)` statements announcing the alert events among `events` (nil when none).
    /// Values are numbers and UUIDs only: nothing from an event's text reaches the SQL.
    public static func statement(for events: some Collection<StoredEvent>) -> String? {
        var payloads: [String] = []
        var current = ""
        for stored in events where kinds.contains(stored.event.kind) {
            let cursor = EventQueries.Cursor(tsMicros: stored.event.ts / 1000, eventID: stored.event.eventID).description
            if !current.isEmpty && current.utf8.count + cursor.utf8.count + 1 > maxPayloadBytes {
                payloads.append(current)
                current = ""
            }
            current += current.isEmpty ? cursor : "," + cursor
        }
        if !current.isEmpty { payloads.append(current) }
        guard !payloads.isEmpty else { return nil }
        return "SELECT " + payloads.map { "pg_notify('\(channel)', '\($0)')" }.joined(separator: ", ")
    }

    /// The events a payload announces; parts that are not cursors are skipped.
    public static func cursors(in payload: String) -> [EventQueries.Cursor] {
        payload.split(separator: ",").compactMap { EventQueries.Cursor(String($0)) }
    }
}

import GuardianPostgres

/// `guardian_alert_deliveries` (migration 0010): which alerts each chat webhook has acknowledged.
public struct AlertDeliveries: Sendable {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// Whether `target` acknowledged `alertID` already.
    public func isDelivered(target: String, alertID: String) async throws -> Bool {
        try await connection.query("SELECT 1 FROM guardian_alert_deliveries WHERE target = $1 AND alert_id = $2", [target, alertID]).rows.count == 1
    }

    /// Records an acknowledged delivery (a repeat is a no-op).
    public func record(target: String, alertID: String, type: String, attempts: Int) async throws {
        try await connection.query("""
            INSERT INTO guardian_alert_deliveries (target, alert_id, alert_type, attempts) VALUES ($1, $2, $3, $4)
            ON CONFLICT (target, alert_id) DO NOTHING
            """, [target, alertID, type, String(attempts)])
    }

    /// Forgets deliveries older than `days`; returns how many.
    @discardableResult
    public func prune(olderThanDays days: Int) async throws -> Int {
        try await connection.query("DELETE FROM guardian_alert_deliveries WHERE delivered_at < now() - $1::int * interval '1 day'",
                                   [String(days)]).affectedRows
    }
}

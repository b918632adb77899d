import Foundation
import GuardianPostgres

/// Records operations in `guardian_operations` (migration 0006): who ran what, when, with which
/// arguments, and what it changed.
public struct OperationsAudit: Sendable {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// `user@host` of a process with this environment: `GUARDIAN_ACTOR` when set (a CI job, an
    /// operator's name), else the login user and host name. The caller passes the environment.
    public static func actor(environment: [String: String]) -> String {
        if let a = environment["GUARDIAN_ACTOR"], !a.isEmpty { return a }
        let user = environment["USER"] ?? environment["LOGNAME"] ?? NSUserName()
        return "\(user)@\(ProcessInfo.processInfo.hostName)"
    }

    /// Adds one record; `details` must be a JSON-serialisable dictionary. Returns the record's id.
    @discardableResult
    public func record(actor: String, operation: String, arguments: String, outcome: String, details: [String: Any]) async throws -> Int64 {
        let data = try JSONSerialization.data(withJSONObject: details, options: [.sortedKeys])
        let r = try await connection.query(
            "INSERT INTO guardian_operations (actor, operation, arguments, outcome, details) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id",
            [actor, operation, arguments, outcome, String(decoding: data, as: UTF8.self)])
        return Int64(r.scalar ?? "") ?? -1
    }
}

import GuardianSupport

/// An error from PostgreSQL or libpq, with the server's SQLSTATE when there is one.
public struct PostgresError: GuardianError, Equatable {
    public enum Kind: String, Sendable {
        case invalidURI = "invalid_uri"
        case connect
        case query
        case copy
        case closed
    }

    public let kind: Kind
    public let message: String
    /// The five-character SQLSTATE the server returned (e.g. `23505` unique violation), if any.
    public let sqlState: String?

    public init(_ kind: Kind, _ message: String, sqlState: String? = nil) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
    }

    public var code: String {
        if let sqlState { return "postgres.\(kind.rawValue).\(sqlState)" }
        return "postgres.\(kind.rawValue)"
    }

    /// True when the failure is about the connection (server gone, network) rather than the statement:
    /// retrying on a new connection can succeed.
    public var isConnectionFailure: Bool {
        if kind == .connect || kind == .closed { return true }
        // A COPY that failed without a server answer lost its connection mid-stream.
        guard let sqlState else { return kind == .copy }
        // Class 08 connection exception, 57P01-03 admin shutdown / crash / cannot connect now.
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P")
    }

    /// True when the rows sent are at fault, not the database: SQLSTATE class 22 (data exception:
    /// a value the column type cannot hold) or 23 (integrity constraint), except 23505 (unique
    /// violation), which is a redelivery. Such rows can never be stored; retrying cannot help.
    public var isDataError: Bool {
        guard let sqlState, sqlState != "23505" else { return false }
        return sqlState.hasPrefix("22") || sqlState.hasPrefix("23")
    }

    /// True when waiting and retrying (on a fresh connection) can succeed: a lost connection, a
    /// timeout or cancel (57014), deadlock or serialization failure (class 40), resources such as a
    /// full disk (class 53), operator intervention (57), system errors (58), a read-only server
    /// (25006, a failover under way), a lock not available (55P03).
    public var isTransient: Bool {
        if isConnectionFailure { return true }
        guard let s = sqlState else { return false }
        return ["40", "53", "57", "58"].contains(where: s.hasPrefix) || s == "25006" || s == "55P03"
    }
}

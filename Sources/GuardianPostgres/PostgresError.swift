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
        guard let sqlState else { return false }
        // Class 08 connection exception, 57P01-03 admin shutdown / crash / cannot connect now.
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P")
    }
}

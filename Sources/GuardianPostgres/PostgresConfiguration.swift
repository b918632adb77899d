import GuardianSupport

/// How to reach PostgreSQL / TimescaleDB.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URI, e.g. `postgresql://guardian@127.0.0.1:5432/guardian`.
    /// Default `postgresql://guardian@127.0.0.1:5432/guardian`.
    public var uri: String
    /// Seconds to wait for the server to answer a connection attempt (libpq `connect_timeout`;
    /// a `connect_timeout` in the URI wins). Default 5.
    public var connectTimeoutSeconds: Int
    /// `application_name` reported to the server (a value in the URI wins). Default `guardian`.
    public var applicationName: String

    /// Longest a statement may run before the server cancels it (SQLSTATE 57014, retried by the
    /// worker), so a stuck write cannot hang a worker or its shutdown. 0 = no limit. Default 60 s.
    public var statementTimeout: Duration
    /// A connection whose sent data stays unacknowledged this long is dropped (Linux
    /// `TCP_USER_TIMEOUT`), and idle connections are probed by TCP keepalives: a half-open connection
    /// (server host gone, network cut) fails within about this long instead of minutes. Default 30 s.
    public var tcpUserTimeout: Duration
    /// When true, a cancelled task stops waiting for a call under way on this connection (it throws
    /// `CancellationError`; the call finishes on the connection's thread, its result is dropped, and
    /// the connection is unusable from then on). For background work that must not hold a shutdown
    /// open while the database does not answer; never for writes whose outcome matters. Default false.
    public var abandonsCallsOnCancellation = false

    public init(
        uri: String = "postgresql://guardian@127.0.0.1:5432/guardian", connectTimeoutSeconds: Int = 5, applicationName: String = "guardian",
        statementTimeout: Duration = .seconds(60), tcpUserTimeout: Duration = .seconds(30)
    ) {
        self.uri = uri
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
        self.statementTimeout = statementTimeout
        self.tcpUserTimeout = tcpUserTimeout
    }

    /// libpq connection keywords applied before the URI's own (a setting in the URI wins).
    var connectionKeywords: [(String, String)] {
        let userTimeoutMs = tcpUserTimeout.components.seconds * 1000 + tcpUserTimeout.components.attoseconds / 1_000_000_000_000_000
        let idle = max(1, userTimeoutMs / 3000)
        let statementMs = statementTimeout.components.seconds * 1000 + statementTimeout.components.attoseconds / 1_000_000_000_000_000
        return [
            ("connect_timeout", String(connectTimeoutSeconds)),
            ("application_name", applicationName),
            ("keepalives", "1"),
            ("keepalives_idle", String(idle)),
            ("keepalives_interval", String(idle)),
            ("keepalives_count", "3"),
            ("tcp_user_timeout", String(userTimeoutMs)),
            ("options", "-c statement_timeout=\(statementMs)"),
        ]
    }

    /// The URI with any password replaced by `***`, safe for logs and error messages.
    public var redactedURI: String { Self.redact(uri) }

    /// `uri` with its password replaced by `***`, for messages and listings.
    public static func redact(_ uri: String) -> String {
        // scheme://user:password@host... -> scheme://user:***@host...
        guard let schemeEnd = uri.range(of: "://"), let at = uri[schemeEnd.upperBound...].firstIndex(of: "@") else {
            return uri.replacing(/password=\S+/, with: "password=***")
        }
        let userInfo = uri[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return uri }
        return String(uri[..<colon]) + ":***" + String(uri[at...])
    }
}

import GuardianSupport

/// How to reach PostgreSQL / TimescaleDB.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URI, e.g. `postgresql://guardian@127.0.0.1:5432/guardian`.
    /// Default: `$TIMESCALEDB_URI`, else `postgresql://guardian@127.0.0.1:5432/guardian`.
    public var uri: String
    /// Seconds to wait for the server to answer a connection attempt (libpq `connect_timeout`;
    /// a `connect_timeout` in the URI wins). Default 5.
    public var connectTimeoutSeconds: Int
    /// `application_name` reported to the server (a value in the URI wins). Default `guardian`.
    public var applicationName: String

    public init(uri: String? = nil, connectTimeoutSeconds: Int = 5, applicationName: String = "guardian") {
        self.uri = uri ?? Env.string("TIMESCALEDB_URI") ?? "postgresql://guardian@127.0.0.1:5432/guardian"
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
    }

    /// The URI with any password replaced by `***`, safe for logs and error messages.
    public var redactedURI: String { Self.redact(uri) }

    static func redact(_ uri: String) -> String {
        // scheme://user:password@host... -> scheme://user:***@host...
        guard let schemeEnd = uri.range(of: "://"), let at = uri[schemeEnd.upperBound...].firstIndex(of: "@") else {
            return uri.replacing(/password=\S+/, with: "password=***")
        }
        let userInfo = uri[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return uri }
        return String(uri[..<colon]) + ":***" + String(uri[at...])
    }
}

/// How to reach Redis.
public struct RedisConfiguration: Sendable {
    /// Host name or IP. Default `127.0.0.1`.
    public var host: String
    /// TCP port. Default 6379.
    public var port: Int
    /// Time allowed to establish the connection. Default 2 s.
    public var connectTimeout: Duration
    /// Time allowed for one command (or one pipeline) to be answered. Default 2 s.
    public var commandTimeout: Duration
    /// An ACL user (Redis 6+); nil with a password authenticates as `default` (legacy `requirepass`).
    public var username: String?
    /// Sent with AUTH on every connect and reconnect, before the connection is used. Never logged.
    public var password: String?
    /// The logical database, selected on every connect. Default 0.
    public var database: Int

    public init(
        host: String = "127.0.0.1", port: Int = 6379, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(2),
        username: String? = nil, password: String? = nil, database: Int = 0
    ) {
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.username = username
        self.password = password
        self.database = database
    }

    /// `host:port`, for messages.
    public var address: String { "\(host):\(port)" }
}

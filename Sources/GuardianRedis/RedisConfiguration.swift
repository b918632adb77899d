import GuardianSupport

/// How to reach Redis.
public struct RedisConfiguration: Sendable {
    /// Host name or IP. Default: `$REDIS_HOST`, else `127.0.0.1`.
    public var host: String
    /// TCP port. Default: `$REDIS_PORT`, else 6379.
    public var port: Int
    /// Time allowed to establish the connection. Default 2 s.
    public var connectTimeout: Duration
    /// Time allowed for one command (or one pipeline) to be answered. Default 2 s.
    public var commandTimeout: Duration

    public init(host: String? = nil, port: Int? = nil, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(2)) {
        self.host = host ?? Env.string("REDIS_HOST") ?? "127.0.0.1"
        self.port = port ?? Env.int("REDIS_PORT") ?? 6379
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// `host:port`, for messages.
    public var address: String { "\(host):\(port)" }
}

import GuardianSupport

/// An error from Redis or hiredis.
public struct RedisError: GuardianError, Equatable {
    public enum Kind: String, Sendable {
        /// Could not connect (refused, unreachable, timed out).
        case connect
        /// The connection failed while sending or reading (including a read timeout); it must be reopened.
        case io
        /// The server answered a command with an error reply.
        case server
        /// The reply was not what the caller expected.
        case unexpectedReply = "unexpected_reply"
        case closed
        /// The server refused the credentials, or wants some and none were configured: a configuration
        /// error (retrying with the same settings cannot help).
        case auth
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var code: String { "redis.\(kind.rawValue)" }

    /// True when the connection is unusable and must be reopened.
    public var isConnectionFailure: Bool { kind == .connect || kind == .io || kind == .closed || kind == .auth }
}

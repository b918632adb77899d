import GuardianSupport

/// A worker failure that is not a driver error.
public struct WorkerError: GuardianError {
    public enum Kind: String, Sendable {
        case startup
        case timeout
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var code: String { "worker.\(kind.rawValue)" }
}

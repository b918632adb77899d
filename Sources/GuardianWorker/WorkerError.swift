import GuardianSupport

/// A worker failure that is not a driver error.
public struct WorkerError: GuardianError {
    public enum Kind: String, Sendable {
        case startup
        case timeout
        /// The database refused every row of a batch for one reason: a change to the database, not poison.
        case everyRowRefused = "every_row_refused"
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var code: String { "worker.\(kind.rawValue)" }
}

import GuardianSupport

/// An operations command (lag, offsets reset, replay, cache rebuild) could not do what was asked.
public struct OperationError: GuardianError {
    public enum Kind: String, Sendable {
        case invalidArgument = "invalid_argument"
        /// The group has running members: its offsets must not change under them.
        case groupActive = "group_active"
        case kafka
        case database
        case timeout
    }

    public let kind: Kind
    public let message: String
    public var code: String { "operations.\(kind.rawValue)" }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// An error a user can act on: a stable machine-readable code and a message that
/// says what went wrong and, where possible, what to do about it.
public protocol GuardianError: Error, CustomStringConvertible, Sendable {
    /// A stable identifier such as `kafka.transport` or `postgres.connect`.
    var code: String { get }
    /// A sentence for a person: what happened and what to check.
    var message: String { get }
}

extension GuardianError {
    public var description: String { "[\(code)] \(message)" }
}

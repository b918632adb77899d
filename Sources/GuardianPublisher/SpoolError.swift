import GuardianSupport

/// An error from the spool.
public struct SpoolError: GuardianError, Equatable {
    public enum Kind: String, Sendable { case full, io, corrupt, busy }
    public let kind: Kind
    public let message: String
    public var code: String { "spool.\(kind.rawValue)" }
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

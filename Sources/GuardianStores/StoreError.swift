import GuardianSupport

/// An error from the stores (schema, events table, state cache) that is not simply a driver error.
public struct StoreError: GuardianError, Equatable {
    public enum Kind: String, Sendable {
        case configuration
        case schemaFiles = "schema_files"
        case migration
        /// The database refused every row of a batch for one reason: a change to the database, not poison.
        case databaseChanged = "database_changed"
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var code: String { "store.\(kind.rawValue)" }
}

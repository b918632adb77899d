import GuardianSupport

/// Why an incoming message is not a valid v1 event. Rejected events never reach the events table;
/// they are counted, logged with their origin, and (later) dead-lettered with this reason.
public struct EventRejection: GuardianError, Equatable {
    public enum Reason: String, Sendable, CaseIterable {
        /// Not JSON, or not a single JSON object.
        case malformed
        /// A field has the wrong JSON type or is duplicated.
        case badField = "bad_field"
        /// A required field is missing.
        case missingField = "missing_field"
        /// A field is well-typed but breaks a rule of the contract (enum, range, format).
        case invalidValue = "invalid_value"
        /// The schema version is not one this decoder reads.
        case unsupportedVersion = "unsupported_version"
        /// The message key is not the event's symbol.
        case keyMismatch = "key_mismatch"
        /// The message is larger than the event size limit.
        case oversized
        /// PostgreSQL refused the event itself (a data error, SQLSTATE class 22 or 23).
        case databaseRefused = "database_refused"
        /// The decoder could not run (out of memory): not the event's fault, so never dead-lettered.
        case decoderUnavailable = "decoder_unavailable"
    }

    public let reason: Reason
    public let message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var code: String { "event.\(reason.rawValue)" }

    /// Whether the message itself is at fault (dead-letter it); false for a failure of this process.
    public var isPoison: Bool { reason != .decoderUnavailable }
}

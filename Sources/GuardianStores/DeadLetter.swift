import Foundation

/// A message that can never be stored because of itself, with why and where it came from.
/// Recorded in `guardian_dead_letters` (with its batch, in one transaction) and produced to the
/// dead-letter topic with the original key and value.
public struct DeadLetter: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    /// A stable reason label (`malformed`, `invalid_value`, `oversized`, `database_refused`, …).
    public var reason: String
    /// The error code (`event.malformed`, `postgres.query.22021`, …).
    public var errorCode: String
    public var errorMessage: String
    /// The worker that dead-lettered it.
    public var worker: String
    /// When, in nanoseconds since the epoch.
    public var timeNanos: Int64

    public init(
        topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8],
        reason: String, errorCode: String, errorMessage: String, worker: String, timeNanos: Int64
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.reason = reason
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.worker = worker
        self.timeNanos = timeNanos
    }

    /// Kafka headers for the dead-letter topic: what went wrong and the origin.
    public var headers: [(String, [UInt8])] {
        [
            ("guardian.error.code", errorCode), ("guardian.error.reason", reason),
            ("guardian.error.message", String(errorMessage.prefix(2000))),
            ("guardian.origin.topic", topic), ("guardian.origin.partition", String(partition)),
            ("guardian.origin.offset", String(offset)), ("guardian.worker", worker),
            ("guardian.dead_lettered_at_ns", String(timeNanos)),
        ].map { ($0.0, Array($0.1.utf8)) }
    }

    /// One `INSERT … ON CONFLICT DO NOTHING` for `letters` (values inlined as literals: bytea in hex,
    /// text with quotes doubled), or nil when there are none.
    static func insertStatement(_ letters: [DeadLetter]) -> String? {
        guard !letters.isEmpty else { return nil }
        func text(_ s: String) -> String {
            // PostgreSQL text cannot hold NUL; the raw bytes are kept in raw_value.
            "'" + s.replacingOccurrences(of: "\0", with: "\\0").replacingOccurrences(of: "'", with: "''") + "'"
        }
        func bytea(_ b: [UInt8]) -> String {
            let digits = Array("0123456789abcdef".utf8)
            var hex: [UInt8] = Array("'\\x".utf8)
            hex.reserveCapacity(b.count * 2 + 12)
            for byte in b {
                hex.append(digits[Int(byte >> 4)])
                hex.append(digits[Int(byte & 0xF)])
            }
            return String(decoding: hex, as: UTF8.self) + "'::bytea"
        }
        let rows = letters.map { d in
            "(\(text(d.topic)), \(d.partition), \(d.offset), \(d.key.map(bytea) ?? "NULL"), \(bytea(d.value)), "
                + "\(text(d.reason)), \(text(d.errorCode)), \(text(d.errorMessage)), \(text(d.worker)), "
                + "to_timestamp(\(Double(d.timeNanos) / 1e9)))"
        }.joined(separator: ",\n")
        return """
            INSERT INTO guardian_dead_letters (topic, kafka_partition, kafka_offset, kafka_key, raw_value, reason,
                error_code, error_message, worker, dead_lettered_at) VALUES
            \(rows)
            ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING
            """
    }
}

/// Builds PostgreSQL's binary COPY format (`COPY … FROM STDIN (FORMAT binary)`), which the server
/// parses with no text conversion: the fastest way to load a batch.
///
/// Call `beginRow(fields:)`, then exactly that many `append…`/`appendNull` calls, per row; then `finish()`.
/// Each value must match its column's type exactly (int8 for bigint, float8 for double precision, …).
public struct PostgresBinaryCopyWriter: Sendable {
    public private(set) var bytes: [UInt8]
    /// Rows begun so far.
    public private(set) var rowCount = 0

    /// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC).
    static let postgresEpochOffsetMicros: Int64 = 946_684_800_000_000

    public init(reservingCapacity: Int = 64 * 1024) {
        bytes = []
        bytes.reserveCapacity(reservingCapacity)
        // Signature "PGCOPY\n\xff\r\n\0", flags (int32 0), header extension length (int32 0).
        bytes.append(contentsOf: [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00])
        appendRaw(Int32(0))
        appendRaw(Int32(0))
    }

    @inline(__always)
    private mutating func appendRaw<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// Starts a row of `fields` values.
    public mutating func beginRow(fields: Int) {
        appendRaw(Int16(fields))
        rowCount += 1
    }

    public mutating func appendNull() { appendRaw(Int32(-1)) }

    public mutating func appendInt16(_ v: Int16) { appendRaw(Int32(2)); appendRaw(v) }
    public mutating func appendInt32(_ v: Int32) { appendRaw(Int32(4)); appendRaw(v) }
    public mutating func appendInt64(_ v: Int64) { appendRaw(Int32(8)); appendRaw(v) }
    public mutating func appendFloat64(_ v: Double) { appendRaw(Int32(8)); appendRaw(v.bitPattern) }
    public mutating func appendBool(_ v: Bool) { appendRaw(Int32(1)); bytes.append(v ? 1 : 0) }

    /// A `text`/`varchar` value from UTF-8 bytes.
    public mutating func appendText<C: Collection>(utf8: C) where C.Element == UInt8 {
        appendRaw(Int32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A `text`/`varchar` value.
    public mutating func appendText(_ s: String) {
        var s = s
        s.withUTF8 { appendText(utf8: $0) }
    }

    /// A `timestamptz` (or `timestamp`) from nanoseconds since the Unix epoch; PostgreSQL keeps microseconds,
    /// so the value is truncated toward negative infinity.
    public mutating func appendTimestamp(nanosecondsSinceEpoch ns: Int64) {
        let micros = ns >= 0 ? ns / 1000 : (ns - 999) / 1000
        appendInt64(micros - Self.postgresEpochOffsetMicros)
    }

    /// A `jsonb` value from UTF-8 JSON text (format version 1).
    public mutating func appendJSONB<C: Collection>(utf8 json: C) where C.Element == UInt8 {
        appendRaw(Int32(json.count + 1))
        bytes.append(1)
        bytes.append(contentsOf: json)
    }

    /// A `uuid` from its 16 bytes.
    public mutating func appendUUID(_ uuid: (UInt64, UInt64)) {
        appendRaw(Int32(16))
        appendRaw(uuid.0)
        appendRaw(uuid.1)
    }

    /// Appends the trailer and returns the finished payload.
    public consuming func finish() -> [UInt8] {
        appendRaw(Int16(-1))
        return bytes
    }
}

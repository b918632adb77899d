/// Encodes events as contract-v1 JSON: one object, null fields left out, numbers in their
/// shortest round-tripping form. Used by the publisher and the simulator; the decoder reads
/// back exactly what it writes.
public struct EventEncoder: Sendable {
    public init() {}

    /// The event as JSON bytes.
    public func encode(_ event: GuardianEvent) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320)
        encode(event, into: &out)
        return out
    }

    /// Appends the event's JSON to `out`.
    public func encode(_ e: GuardianEvent, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"v":1,"event_id":""#.utf8)
        out.append(contentsOf: e.eventID.description.utf8)
        out.append(contentsOf: #"","symbol":"#.utf8)
        Self.appendString(e.symbol, to: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        out.append(contentsOf: String(e.seq).utf8)
        out.append(contentsOf: #","ts":"#.utf8)
        out.append(contentsOf: String(e.ts).utf8)
        out.append(contentsOf: #","kind":""#.utf8)
        out.append(contentsOf: e.kind.rawValue.utf8)
        out.append(UInt8(ascii: "\""))
        if let d = e.decision { field("decision", &out); Self.appendString(d.rawValue, to: &out) }
        if let r = e.reason { field("reason", &out); Self.appendString(r, to: &out) }
        if let s = e.side { field("side", &out); Self.appendString(s.rawValue, to: &out) }
        number("qty", e.qty, &out)
        number("price", e.price, &out)
        number("position", e.position, &out)
        number("exposure", e.exposure, &out)
        number("realized_pnl", e.realizedPnl, &out)
        number("unrealized_pnl", e.unrealizedPnl, &out)
        if let l = e.latencyUs { field("latency_us", &out); out.append(contentsOf: String(l).utf8) }
        if let a = e.attrs { field("attrs", &out); out.append(contentsOf: a.utf8) }
        out.append(UInt8(ascii: "}"))
    }

    @inline(__always)
    private func field(_ name: StaticString, _ out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: #"":"#.utf8)
    }

    @inline(__always)
    private func number(_ name: StaticString, _ value: Double?, _ out: inout [UInt8]) {
        // JSON has no NaN or infinity: such a value is written as null.
        guard let value else { return }
        field(name, &out)
        if value.isFinite { out.append(contentsOf: value.description.utf8) } else { out.append(contentsOf: "null".utf8) }
    }

    /// Appends `s` as a JSON string literal.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The event time of a value this encoder wrote, in milliseconds since the epoch (the Kafka message
    /// timestamp publishers set, so that replay ranges in Kafka time match event time), without a full
    /// decode: the encoder writes `"ts":` before any free-text field. Nil when it is not found.
    public static func timestampMilliseconds(ofEncoded value: [UInt8]) -> Int64? {
        let marker: [UInt8] = Array(#""ts":"#.utf8)
        let limit = min(value.count, 256)
        guard limit > marker.count else { return nil }
        var i = 0
        while i + marker.count < limit {
            if value[i] == marker[0] && Array(value[i..<(i + marker.count)]) == marker {
                var j = i + marker.count
                var negative = false
                if j < value.count && value[j] == UInt8(ascii: "-") { negative = true; j += 1 }
                var n: Int64 = 0
                var digits = 0
                while j < value.count, value[j] >= 48, value[j] <= 57, digits < 19 {
                    n = n * 10 + Int64(value[j] - 48)
                    j += 1
                    digits += 1
                }
                guard digits > 0 else { return nil }
                return (negative ? -n : n) / 1_000_000
            }
            i += 1
        }
        return nil
    }
}

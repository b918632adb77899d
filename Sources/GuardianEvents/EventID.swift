/// A UUID (any version) held as two 64-bit halves, parsed from and printed as the canonical
/// 8-4-4-4-12 hexadecimal form. The event's idempotency key.
public struct EventID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits in either case); nil otherwise.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ EventID(utf8: $0) }) else { return nil }
        self = parsed
    }

    /// Parses the canonical form from UTF-8 bytes.
    public init?<C: Collection>(utf8: C) where C.Element == UInt8 {
        guard utf8.count == 36 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var nibbles = 0
        for (i, b) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard b == UInt8(ascii: "-") else { return nil }
                continue
            }
            let v: UInt64
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt64(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = UInt64(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = UInt64(b - UInt8(ascii: "A") + 10)
            default: return nil
            }
            if nibbles < 16 { high = high << 4 | v } else { low = low << 4 | v }
            nibbles += 1
        }
        self.init(high: high, low: low)
    }

    /// A random version-4 UUID.
    public static func random() -> EventID {
        var g = SystemRandomNumberGenerator()
        return random(using: &g)
    }

    /// A version-4 UUID from `generator`.
    public static func random<G: RandomNumberGenerator>(using generator: inout G) -> EventID {
        let high = (generator.next() & ~UInt64(0xF000)) | 0x4000          // version 4
        let low = (generator.next() & ~(UInt64(0xC) << 60)) | (UInt64(0x8) << 60)  // RFC 4122 variant
        return EventID(high: high, low: low)
    }

    /// The canonical lowercase form.
    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: UInt8(ascii: "-"), count: 36)
        var pos = 0
        for nibble in 0..<32 {
            if pos == 8 || pos == 13 || pos == 18 || pos == 23 { pos += 1 }
            let word = nibble < 16 ? high : low
            let shift = UInt64(60 - (nibble % 16) * 4)
            out[pos] = hex[Int((word >> shift) & 0xF)]
            pos += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One risk-guardian event, contract v1 (see `schemas/guardian-event.v1.schema.json`).
public struct GuardianEvent: Sendable, Equatable {
    /// The schema version this model implements.
    public static let schemaVersion: Int64 = 1
    /// The default size limit of one encoded event: under Kafka's default `message.max.bytes`
    /// (1,048,588) with room for the key, headers and record overhead.
    public static let defaultMaxEventBytes = 1_000_000

    /// The idempotency key.
    public var eventID: EventID
    /// 1–64 characters of `A-Z a-z 0-9 . _ : / -`; also the Kafka message key.
    public var symbol: String
    /// Strictly increasing per symbol as the engine emits; ≥ 0.
    public var seq: Int64
    /// Event time in nanoseconds since the Unix epoch (UTC).
    public var ts: Int64
    public var kind: EventKind
    public var decision: Decision?
    /// Why, for a deny or a breach.
    public var reason: String?
    public var side: Side?
    public var qty: Double?
    public var price: Double?
    public var position: Double?
    public var exposure: Double?
    public var realizedPnl: Double?
    public var unrealizedPnl: Double?
    /// The guardian's check latency in microseconds.
    public var latencyUs: Int64?
    /// Free-form extra attributes as a minified JSON object (unknown top-level fields are kept here too).
    public var attrs: String?

    public init(
        eventID: EventID, symbol: String, seq: Int64, ts: Int64, kind: EventKind,
        decision: Decision? = nil, reason: String? = nil, side: Side? = nil,
        qty: Double? = nil, price: Double? = nil, position: Double? = nil, exposure: Double? = nil,
        realizedPnl: Double? = nil, unrealizedPnl: Double? = nil, latencyUs: Int64? = nil, attrs: String? = nil
    ) {
        self.eventID = eventID
        self.symbol = symbol
        self.seq = seq
        self.ts = ts
        self.kind = kind
        self.decision = decision
        self.reason = reason
        self.side = side
        self.qty = qty
        self.price = price
        self.position = position
        self.exposure = exposure
        self.realizedPnl = realizedPnl
        self.unrealizedPnl = unrealizedPnl
        self.latencyUs = latencyUs
        self.attrs = attrs
    }
}

/// What the event reports.
public enum EventKind: String, Sendable, CaseIterable {
    case orderCheck = "order_check"
    case position
    case pnl
    case riskBreach = "risk_breach"
    case lock
    case circuitBreaker = "circuit_breaker"
    case heartbeat
}

/// The outcome of a check.
public enum Decision: String, Sendable, CaseIterable {
    case allow
    case deny
}

/// Order side.
public enum Side: String, Sendable, CaseIterable {
    case buy
    case sell
}

/// The rules for a symbol: 1–64 characters of `A-Z a-z 0-9 . _ : / -`.
public enum SymbolRule {
    public static let maxLength = 64

    /// True when `utf8` is a valid symbol.
    @inlinable
    public static func isValid<C: Collection>(utf8: C) -> Bool where C.Element == UInt8 {
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        for b in utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }
}

import CGuardianJSON

/// Decodes and validates v1 events from JSON bytes, with simdjson underneath.
///
/// Not thread-safe: it reuses its buffers. Give each decoding thread or task its own decoder.
/// The rules it enforces are those of `schemas/guardian-event.v1.schema.json` (a test keeps
/// the two in agreement).
public final class EventDecoder {
    /// nil only when allocation failed (out of memory); every decode then reports it.
    private let decoder: OpaquePointer?
    private var out = gj_event()

    /// Events larger than this many bytes of JSON are refused as `oversized`.
    public let maxEventBytes: Int

    /// A decoder refusing events over `maxEventBytes` (default `GuardianEvent.defaultMaxEventBytes`).
    public init(maxEventBytes: Int = GuardianEvent.defaultMaxEventBytes) {
        decoder = gj_decoder_new()
        self.maxEventBytes = maxEventBytes
    }

    deinit { gj_decoder_free(decoder) }

    /// False when the decoder could not allocate its buffers: every decode would fail, through no
    /// fault of the events. Check it before consuming.
    public var isUsable: Bool { decoder != nil }

    /// Decodes one message value. `key`, when given, must equal the event's symbol.
    public func decode(_ bytes: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer? = nil) -> Result<GuardianEvent, EventRejection> {
        guard let decoder else { return .failure(EventRejection(.decoderUnavailable, "the JSON decoder could not allocate its buffers (out of memory)")) }
        guard bytes.count <= maxEventBytes else {
            return .failure(EventRejection(.oversized, "the event is \(bytes.count) bytes, over the \(maxEventBytes)-byte limit"))
        }
        let rc = gj_decode(decoder, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &out)
        if rc != GJ_OK {
            let text = withUnsafeBytes(of: out.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let reason: EventRejection.Reason = rc == GJ_MALFORMED ? .malformed : rc == GJ_INVALID ? .invalidValue : .badField
            return .failure(EventRejection(reason, text))
        }
        return validate(key: key)
    }

    /// Decodes one message value held in an array.
    public func decode(_ bytes: [UInt8], key: [UInt8]? = nil) -> Result<GuardianEvent, EventRejection> {
        bytes.withUnsafeBytes { value in
            guard let key else { return decode(value, key: nil) }
            return key.withUnsafeBytes { decode(value, key: $0) }
        }
    }

    private func validate(key: UnsafeRawBufferPointer?) -> Result<GuardianEvent, EventRejection> {
        let e = out
        func has(_ bit: UInt32) -> Bool { e.present & bit != 0 }
        func bytes(_ s: gj_str) -> UnsafeRawBufferPointer? {
            s.ptr.map { UnsafeRawBufferPointer(start: $0, count: s.len) }
        }
        func string(_ s: gj_str) -> String? { bytes(s).map { String(decoding: $0, as: UTF8.self) } }
        func missing(_ name: String) -> Result<GuardianEvent, EventRejection> { .failure(EventRejection(.missingField, "'\(name)' is required")) }
        func invalid(_ text: String) -> Result<GuardianEvent, EventRejection> { .failure(EventRejection(.invalidValue, text)) }

        guard has(UInt32(GJ_HAS_V)) else { return missing("v") }
        guard e.v == GuardianEvent.schemaVersion else {
            return .failure(EventRejection(.unsupportedVersion, "schema version \(e.v) is not supported (this worker reads v1)"))
        }
        guard let idBytes = bytes(e.event_id) else { return missing("event_id") }
        guard let eventID = EventID(utf8: idBytes) else {
            return invalid("'event_id' must be a UUID like 123e4567-e89b-12d3-a456-426614174000, got '\(String(decoding: idBytes.prefix(64), as: UTF8.self))'")
        }
        guard let symbolBytes = bytes(e.symbol) else { return missing("symbol") }
        guard SymbolRule.isValid(utf8: symbolBytes) else {
            return invalid("'symbol' must be 1-64 characters of A-Z a-z 0-9 . _ : / -, got '\(String(decoding: symbolBytes.prefix(80), as: UTF8.self))'")
        }
        if let key, !key.elementsEqual(symbolBytes) {
            return .failure(EventRejection(.keyMismatch,
                "the message key '\(String(decoding: key.prefix(80), as: UTF8.self))' is not the event's symbol '\(String(decoding: symbolBytes, as: UTF8.self))'"))
        }
        guard has(UInt32(GJ_HAS_SEQ)) else { return missing("seq") }
        guard e.seq >= 0 else { return invalid("'seq' must be >= 0, got \(e.seq)") }
        guard has(UInt32(GJ_HAS_TS)) else { return missing("ts") }
        guard e.ts > 0 else { return invalid("'ts' must be nanoseconds since the Unix epoch (> 0), got \(e.ts)") }
        guard let kindText = string(e.kind) else { return missing("kind") }
        guard let kind = EventKind(rawValue: kindText) else {
            return invalid("'kind' must be one of \(EventKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(kindText.prefix(40))'")
        }
        var decision: Decision?
        if let text = string(e.decision) {
            guard let d = Decision(rawValue: text) else { return invalid("'decision' must be allow, deny or null, got '\(text.prefix(40))'") }
            decision = d
        }
        var side: Side?
        if let text = string(e.side) {
            guard let s = Side(rawValue: text) else { return invalid("'side' must be buy, sell or null, got '\(text.prefix(40))'") }
            side = s
        }
        var latency: Int64?
        if has(UInt32(GJ_HAS_LATENCY_US)) {
            guard e.latency_us >= 0 else { return invalid("'latency_us' must be >= 0, got \(e.latency_us)") }
            latency = e.latency_us
        }
        return .success(GuardianEvent(
            eventID: eventID,
            symbol: String(decoding: symbolBytes, as: UTF8.self),
            seq: e.seq, ts: e.ts, kind: kind, decision: decision, reason: string(e.reason), side: side,
            qty: has(UInt32(GJ_HAS_QTY)) ? e.qty : nil,
            price: has(UInt32(GJ_HAS_PRICE)) ? e.price : nil,
            position: has(UInt32(GJ_HAS_POSITION)) ? e.position : nil,
            exposure: has(UInt32(GJ_HAS_EXPOSURE)) ? e.exposure : nil,
            realizedPnl: has(UInt32(GJ_HAS_REALIZED_PNL)) ? e.realized_pnl : nil,
            unrealizedPnl: has(UInt32(GJ_HAS_UNREALIZED_PNL)) ? e.unrealized_pnl : nil,
            latencyUs: latency,
            attrs: string(e.attrs)))
    }
}

import Foundation
import GuardianEvents
import Testing

let sampleJSON = #"{"v":1,"event_id":"123e4567-e89b-42d3-a456-426614174000","symbol":"AAPL","seq":42,"ts":1764000000123456789,"kind":"order_check","decision":"deny","reason":"position limit","side":"buy","qty":100,"price":187.25,"position":5000,"exposure":936250.5,"realized_pnl":-12.5,"unrealized_pnl":3.75,"latency_us":17,"attrs":{"desk":"eq1","limits":[1,2]}}"#

func decode(_ json: String, key: String? = nil) -> Result<GuardianEvent, EventRejection> {
    EventDecoder().decode(Array(json.utf8), key: key.map { Array($0.utf8) })
}

@Suite struct EventCodecTests {
    @Test func decodesEveryField() throws {
        let e = try decode(sampleJSON, key: "AAPL").get()
        #expect(e.eventID.description == "123e4567-e89b-42d3-a456-426614174000")
        #expect(e.symbol == "AAPL" && e.seq == 42 && e.ts == 1_764_000_000_123_456_789)
        #expect(e.kind == .orderCheck && e.decision == .deny && e.reason == "position limit" && e.side == .buy)
        #expect(e.qty == 100 && e.price == 187.25 && e.position == 5000 && e.exposure == 936250.5)
        #expect(e.realizedPnl == -12.5 && e.unrealizedPnl == 3.75 && e.latencyUs == 17)
        #expect(e.attrs == #"{"desk":"eq1","limits":[1,2]}"#)
    }

    @Test func minimalEventHasNilOptionals() throws {
        let e = try decode(#"{"v":1,"event_id":"123E4567-E89B-42D3-A456-426614174000","symbol":"BTC/USD","seq":0,"ts":1,"kind":"heartbeat","decision":null}"#).get()
        #expect(e.eventID.description == "123e4567-e89b-42d3-a456-426614174000")
        #expect(e.decision == nil && e.qty == nil && e.latencyUs == nil && e.attrs == nil)
    }

    @Test func unknownTopLevelFieldsAreKeptInAttrs() throws {
        let e = try decode(#"{"v":1,"event_id":"123e4567-e89b-42d3-a456-426614174000","symbol":"X","seq":1,"ts":5,"kind":"lock","venue":"XNAS","attrs":{"venue":"inner","a":1},"extra":{"z":[true,null]}}"#).get()
        #expect(e.attrs == #"{"venue":"inner","a":1,"top.venue":"XNAS","extra":{"z":[true,null]}}"#)
        let noAttrs = try decode(#"{"v":1,"event_id":"123e4567-e89b-42d3-a456-426614174000","symbol":"X","seq":1,"ts":5,"kind":"lock","we\"ird":"a\nb"}"#).get()
        #expect(noAttrs.attrs == #"{"we\"ird":"a\nb"}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(noAttrs.attrs!.utf8)) as? [String: String]
        #expect(parsed == ["we\"ird": "a\nb"])
    }

    @Test func rejectsWithReasons() {
        let cases: [(String, EventRejection.Reason, String)] = [
            ("not json", .malformed, "malformed"),
            ("[1,2]", .malformed, "object"),
            (sampleJSON.replacingOccurrences(of: #""v":1"#, with: #""v":2"#), .unsupportedVersion, "version 2"),
            (sampleJSON.replacingOccurrences(of: #""seq":42"#, with: #""seq":"42""#), .badField, "'seq' must be an integer"),
            (sampleJSON.replacingOccurrences(of: #""seq":42"#, with: #""seq":-1"#), .invalidValue, "'seq' must be >= 0"),
            (sampleJSON.replacingOccurrences(of: #""seq":42"#, with: #""seq":4.5"#), .badField, "'seq' must be an integer"),
            (sampleJSON.replacingOccurrences(of: #""seq":42"#, with: #""seq":18446744073709551615"#), .badField, "int64"),
            (sampleJSON.replacingOccurrences(of: #""kind":"order_check""#, with: #""kind":"trade""#), .invalidValue, "'kind' must be one of"),
            (sampleJSON.replacingOccurrences(of: #""symbol":"AAPL""#, with: #""symbol":"AA PL""#), .invalidValue, "'symbol'"),
            (sampleJSON.replacingOccurrences(of: #""symbol":"AAPL""#, with: #""symbol":"""#), .invalidValue, "'symbol'"),
            (sampleJSON.replacingOccurrences(of: "123e4567-e89b", with: "123e4567_e89b"), .invalidValue, "UUID"),
            (sampleJSON.replacingOccurrences(of: #""qty":100"#, with: #""qty":"100""#), .badField, "'qty' must be a number or null"),
            (sampleJSON.replacingOccurrences(of: #""attrs":{"#, with: #""attrs":[{"#).replacingOccurrences(of: "]}}", with: "]}]}"), .badField, "'attrs' must be an object"),
            (sampleJSON.replacingOccurrences(of: #""decision":"deny""#, with: #""decision":"maybe""#), .invalidValue, "'decision'"),
            (sampleJSON.replacingOccurrences(of: #""side":"buy""#, with: #""side":1"#), .badField, "'side' must be a string or null"),
            (sampleJSON.replacingOccurrences(of: #""ts":1764000000123456789,"#, with: ""), .missingField, "'ts' is required"),
            (sampleJSON.replacingOccurrences(of: #""latency_us":17"#, with: #""latency_us":-3"#), .invalidValue, "latency_us"),
            (sampleJSON.replacingOccurrences(of: #""seq":42,"#, with: #""seq":42,"seq":43,"#), .badField, "duplicate field 'seq'"),
            (sampleJSON.replacingOccurrences(of: #""position limit""#, with: #""a\u0000b""#), .invalidValue, "'reason' contains U+0000"),
            (sampleJSON.replacingOccurrences(of: #""desk":"eq1""#, with: #""desk":"e\u0000q""#), .invalidValue, "'attrs' contains U+0000"),
            (sampleJSON.replacingOccurrences(of: #""limits":[1,2]"#, with: #""limits":[1,{"x":["\u0000"]}]"#), .invalidValue, "'attrs' contains U+0000"),
            (sampleJSON.replacingOccurrences(of: #""desk":"eq1""#, with: #""d\u0000sk":"eq1""#), .invalidValue, "'attrs' contains U+0000"),
            (sampleJSON.replacingOccurrences(of: #""kind":"#, with: #""ven\u0000ue":1,"kind":"#), .invalidValue, "contains U+0000"),
            (sampleJSON.replacingOccurrences(of: #""kind":"#, with: #""venue":"x\u0000","kind":"#), .invalidValue, "'venue' contains U+0000"),
            (sampleJSON.replacingOccurrences(of: #""desk":"eq1""#, with: "\"desk\":\"\(String(repeating: "x", count: 1_000_001))\""), .oversized, "over the 1000000-byte limit"),
        ]
        for (json, reason, text) in cases {
            switch decode(json) {
            case .success: Issue.record("accepted: \(json)")
            case .failure(let r):
                #expect(r.reason == reason, "\(json) -> \(r)")
                #expect(r.message.contains(text), "\(r.message) should mention \(text)")
            }
        }
    }

    @Test func keyMustEqualSymbol() {
        guard case .failure(let r) = decode(sampleJSON, key: "MSFT") else { Issue.record("accepted a key mismatch"); return }
        #expect(r.reason == .keyMismatch)
    }

    @Test func encoderRoundTrips() throws {
        let original = try decode(sampleJSON).get()
        let again = try EventDecoder().decode(EventEncoder().encode(original)).get()
        #expect(again == original)
        var odd = original
        odd.reason = "quote \" backslash \\ newline \n tab \t bell \u{07} é"
        odd.qty = 1e-7
        odd.price = nil
        odd.attrs = nil
        #expect(try EventDecoder().decode(EventEncoder().encode(odd)).get() == odd)
    }

    @Test func eventIDsParseAndPrint() {
        let id = EventID.random()
        #expect(EventID(id.description) == id)
        #expect(id.description.count == 36)
        #expect(Array(id.description)[14] == "4")
        #expect(EventID("not-a-uuid") == nil)
        #expect(EventID("123e4567-e89b-42d3-a456-42661417400g") == nil)
    }

    @Test func theEventTimeIsReadFromAnEncodedValueWithoutDecoding() {
        var e = GuardianEvent(eventID: .random(), symbol: "AAPL", seq: 7, ts: 1_795_622_502_189_090_396, kind: .orderCheck)
        e.reason = #"a reason with "ts":1 inside"#
        #expect(EventEncoder.timestampMilliseconds(ofEncoded: EventEncoder().encode(e)) == 1_795_622_502_189)
        e.ts = -5_000_000
        #expect(EventEncoder.timestampMilliseconds(ofEncoded: EventEncoder().encode(e)) == -5)
        #expect(EventEncoder.timestampMilliseconds(ofEncoded: Array(#"{"v":1,"symbol":"X"}"#.utf8)) == nil)
    }
}

import GuardianEvents
import Testing

/// Feeds the decoder malformed input: random mutations of valid events, truncations, random
/// bytes. It must never crash, and whatever it accepts must re-encode to an event it accepts again.
@Suite struct DecoderFuzzTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func survivesTwentyThousandMutations() throws {
        var rng = SplitMix(state: 0x6A7D_1A2B)
        let decoder = EventDecoder()
        let seed = Array(sampleJSON.utf8)
        let interesting: [UInt8] = Array(#"{}[]",:"\0123456789.eE-+ntfu"#.utf8) + [0, 0x7F, 0xC3, 0xFF, 0x0A]
        var accepted = 0, rejected = 0
        for round in 0..<20_000 {
            var input = seed
            switch round % 4 {
            case 0:  // flip a few bytes
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    input[Int.random(in: 0..<input.count, using: &rng)] = interesting.randomElement(using: &rng)!
                }
            case 1:  // truncate
                input = Array(input.prefix(Int.random(in: 0..<input.count, using: &rng)))
            case 2:  // insert
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    input.insert(interesting.randomElement(using: &rng)!, at: Int.random(in: 0...input.count, using: &rng))
                }
            default:  // random bytes
                input = (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            switch decoder.decode(input) {
            case .success(let event):
                accepted += 1
                let again = decoder.decode(EventEncoder().encode(event))
                #expect((try? again.get()) == event, "re-encoding changed the event from \(String(decoding: input, as: UTF8.self))")
            case .failure(let rejection):
                rejected += 1
                #expect(!rejection.message.isEmpty)
            }
        }
        #expect(accepted > 0 && rejected > 0, "the fuzz must exercise both paths (\(accepted) accepted, \(rejected) rejected)")
    }
}

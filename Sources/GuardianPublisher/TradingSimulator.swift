import Foundation
import GuardianEvents

/// A trading-engine simulator: a plausible stream of guardian events — mostly order checks, positions
/// and PnL that evolve consistently per symbol, occasional locks, risk breaches and circuit-breaker
/// trips — with `seq` counting up per symbol. Used by `guardian simulate` and `make run`.
public struct TradingSimulator: Sendable {
    struct SymbolState: Sendable {
        var seq: Int64 = -1
        var position: Double = 0
        var realized: Double = 0
        var price: Double
    }

    public private(set) var symbols: [String]
    private var state: [SymbolState]
    private var rng = SystemRandomNumberGenerator()
    private var next = 0

    public init(symbols count: Int) {
        symbols = (0..<count).map { String(format: "SYM%02d", $0) }
        state = (0..<count).map { SymbolState(price: 50 + Double($0) * 7.5) }
    }

    /// The highest seq emitted per symbol.
    public var highestSeq: [String: Int64] {
        Dictionary(uniqueKeysWithValues: zip(symbols, state.map(\.seq)).filter { $0.1 >= 0 })
    }

    /// The next event, round-robin over symbols, stamped with `ts`.
    public mutating func nextEvent(ts: Int64) -> GuardianEvent {
        let i = next
        next = (next + 1) % symbols.count
        state[i].seq += 1
        state[i].price = max(1, state[i].price * (1 + Double.random(in: -0.001...0.001, using: &rng)))
        let s = state[i]
        let roll = Int.random(in: 0..<1000, using: &rng)
        let side: Side = Bool.random(using: &rng) ? .buy : .sell
        let qty = Double(Int.random(in: 1...20, using: &rng) * 100)
        var e = GuardianEvent(eventID: .random(using: &rng), symbol: symbols[i], seq: s.seq, ts: ts, kind: .orderCheck,
                              side: side, qty: qty, price: (s.price * 100).rounded() / 100, position: s.position,
                              exposure: abs(s.position) * s.price, latencyUs: Int64.random(in: 3...60, using: &rng))
        switch roll {
        case 0..<800:
            let deny = roll < 40
            e.decision = deny ? .deny : .allow
            e.reason = deny ? "position limit" : nil
            if !deny { state[i].position += side == .buy ? qty : -qty }
        case 800..<900:
            e.kind = .position
            e.position = state[i].position
        case 900..<990:
            e.kind = .pnl
            state[i].realized += Double.random(in: -500...520, using: &rng)
            e.realizedPnl = (state[i].realized * 100).rounded() / 100
            e.unrealizedPnl = ((s.position * (s.price - 100)) * 100).rounded() / 100
        case 990..<996:
            e.kind = .lock
            e.attrs = #"{"lock":"symbol","action":"acquire"}"#
        case 996..<999:
            e.kind = .riskBreach
            e.reason = "exposure above limit"
        default:
            e.kind = .circuitBreaker
            e.reason = "loss limit tripped"
        }
        return e
    }
}

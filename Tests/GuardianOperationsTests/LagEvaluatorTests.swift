import GuardianOperations
import Testing

/// Burrow's rules, one recorded sample sequence per status. Samples are 10 s apart; (committed, lag).
@Suite struct LagEvaluatorTests {
    func evaluate(_ samples: [(Int64?, Int64)], stopAfter: Double = 60, window: Int = 10) -> LagStatus {
        var e = LagEvaluator(windowSize: window, minimumSamples: 3, stopAfter: stopAfter)
        for (i, s) in samples.enumerated() {
            e.record(partition: 0, .init(time: Double(i) * 10, committed: s.0, lag: s.1))
        }
        return e.status(partition: 0)
    }

    @Test func caughtUpIsOK() {
        #expect(evaluate([(100, 0), (100, 0), (100, 0), (100, 0), (100, 0), (100, 0), (100, 0), (100, 0)]) == .ok)
    }

    @Test func consumingWithSteadyLagIsOK() {
        #expect(evaluate([(100, 50), (150, 40), (200, 60), (260, 45), (300, 50)]) == .ok)
    }

    @Test func lagGrowingWhileCommitsAdvanceIsWARN() {
        #expect(evaluate([(100, 10), (110, 20), (120, 30), (130, 30), (140, 45)]) == .warn)
        // One shrink in the window: not WARN.
        #expect(evaluate([(100, 10), (110, 20), (120, 15), (130, 30), (140, 45)]) == .ok)
    }

    @Test func committedStillWithLagIsSTALLThenSTOP() {
        #expect(evaluate([(100, 5), (100, 8), (100, 12)]) == .stall)
        // Still for 60 s or more (7 samples 10 s apart): no commit for longer than the window.
        #expect(evaluate([(100, 5), (100, 8), (100, 12), (100, 15), (100, 15), (100, 16), (100, 20)]) == .stop)
        // Still, but caught up: OK.
        #expect(evaluate([(100, 0), (100, 0), (100, 0), (100, 0), (100, 0), (100, 0), (100, 0)]) == .ok)
        // Too few samples to say: OK.
        #expect(evaluate([(100, 5), (100, 8)]) == .ok)
    }

    @Test func aGroupThatNeverCommittedAndHasLagStops() {
        #expect(evaluate([(nil, 500), (nil, 500), (nil, 500), (nil, 500), (nil, 500), (nil, 500), (nil, 500)]) == .stop)
    }

    @Test func committedGoingBackIsREWIND() {
        #expect(evaluate([(100, 5), (120, 5), (40, 90), (60, 70)]) == .rewind)
        // Rewound out of the window: judged on what is left.
        #expect(evaluate([(100, 5), (40, 90), (60, 70), (80, 50), (100, 30)], window: 3) == .ok)
    }

    @Test func theGroupIsItsWorstPartition() {
        var e = LagEvaluator(windowSize: 10, minimumSamples: 3, stopAfter: 60)
        for i in 0..<4 {
            let t = Double(i) * 10
            e.record(partition: 0, .init(time: t, committed: Int64(100 + i * 10), lag: 0))
            e.record(partition: 1, .init(time: t, committed: 7, lag: 3))
            e.record(partition: 2, .init(time: t, committed: Int64(50 + i), lag: Int64(10 + i)))
        }
        #expect(e.status(partition: 0) == .ok)
        #expect(e.status(partition: 1) == .stall)
        #expect(e.status(partition: 2) == .warn)
        #expect(e.groupStatus == .stall)
        #expect(LagStatus.stop > LagStatus.stall && LagStatus.stall > LagStatus.rewind && LagStatus.rewind > LagStatus.warn)
    }

    @Test func aSampleCountsLagFromTheOldestMessageWhenNothingIsCommitted() {
        #expect(PartitionLagSample(partition: 0, committed: nil, low: 200, end: 1000).lag == 800)
        #expect(PartitionLagSample(partition: 0, committed: 100, low: 200, end: 1000).lag == 800, "a committed offset the log dropped")
        #expect(PartitionLagSample(partition: 0, committed: 1000, low: 200, end: 1000).lag == 0)
    }
}

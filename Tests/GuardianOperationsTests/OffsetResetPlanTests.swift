import GuardianOperations
import Testing

@Suite struct OffsetResetPlanTests {
    let partitions: [OffsetResetPlan.PartitionState] = [
        .init(partition: 0, committed: 400, low: 100, high: 1000),
        .init(partition: 1, committed: nil, low: 0, high: 50),
        .init(partition: 2, committed: 900, low: 0, high: 900),
    ]

    func news(_ plan: OffsetResetPlan) -> [Int32: Int64] {
        Dictionary(uniqueKeysWithValues: plan.moves.map { ($0.partition, $0.new) })
    }

    @Test func eachModeMovesExactlyWhatItSays() throws {
        #expect(news(try OffsetResetPlan.make(.earliest, partitions: partitions)) == [0: 100, 1: 0, 2: 0])
        #expect(news(try OffsetResetPlan.make(.latest, partitions: partitions)) == [0: 1000, 1: 50, 2: 900])
        #expect(news(try OffsetResetPlan.make(.shiftBy(-150), partitions: partitions)) == [0: 250, 1: 0, 2: 750])
        #expect(news(try OffsetResetPlan.make(.shiftBy(30), partitions: partitions)) == [0: 430, 1: 30, 2: 900])
        #expect(news(try OffsetResetPlan.make(.offsets([0: 500, 2: 10]), partitions: partitions)) == [0: 500, 2: 10])
        #expect(news(try OffsetResetPlan.make(.datetime(0), partitions: partitions, timeOffsets: [0: 700, 1: 50, 2: 3])) == [0: 700, 1: 50, 2: 3])
        #expect(news(try OffsetResetPlan.make(.earliest, partitions: partitions, only: [2])) == [2: 0])
    }

    @Test func oldOffsetsAreKeptAndOutOfRangeTargetsClamped() throws {
        let plan = try OffsetResetPlan.make(.offsets([0: 5, 1: 99]), partitions: partitions)
        #expect(plan.moves == [.init(partition: 0, old: 400, new: 100, clamped: true), .init(partition: 1, old: nil, new: 50, clamped: true)])
    }

    @Test func unknownPartitionsAndBadSyntaxAreRefused() {
        #expect(throws: OperationError.self) { try OffsetResetPlan.make(.earliest, partitions: partitions, only: [7]) }
        #expect(throws: OperationError.self) { try OffsetResetPlan.make(.offsets([9: 1]), partitions: partitions) }
        #expect(throws: OperationError.self) { try OffsetResetPlan.parseOffsets("0=5") }
        #expect(throws: OperationError.self) { try OffsetResetPlan.parseOffsets("") }
        #expect((try? OffsetResetPlan.parseOffsets("0:5, 3:0")) == [0: 5, 3: 0])
    }
}

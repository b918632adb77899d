import GuardianKafka
import Testing

/// The fleet's one lag rule (`guardian lag`, the exporter, the API and the worker's metric use it).
@Suite struct PartitionOffsetsTests {
    @Test func lagCountsFromTheCommittedOffsetOrTheOldestMessageTheLogHolds() {
        #expect(PartitionOffsets(partition: 0, committed: 40, low: 10, high: 100).lag == 60)
        #expect(PartitionOffsets(partition: 0, committed: nil, low: 10, high: 100).lag == 90, "nothing committed: from the oldest message")
        #expect(PartitionOffsets(partition: 0, committed: 5, low: 10, high: 100).lag == 90, "retention deleted past the commit: from the oldest message")
        #expect(PartitionOffsets(partition: 0, committed: 5, low: 10, high: 100).position == 10)
        #expect(PartitionOffsets(partition: 0, committed: 100, low: 10, high: 100).lag == 0)
        #expect(PartitionOffsets(partition: 0, committed: 120, low: 10, high: 100).lag == 0, "a commit past the end (topic recreated) is no negative lag")
        #expect(PartitionOffsets(partition: 0, committed: nil, low: 0, high: 0).lag == 0)
    }
}

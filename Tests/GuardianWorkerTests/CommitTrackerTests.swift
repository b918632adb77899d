import GuardianKafka
import GuardianWorker
import Testing

@Suite struct CommitTrackerTests {
    let p0 = TopicPartition("t", 0)
    let p1 = TopicPartition("t", 1)

    @Test func commitsOnlyWhatIsDurableAndOnlyOnce() {
        var t = CommitTracker()
        t.assign([p0, p1])
        #expect(t.pendingCommits().isEmpty, "nothing durable yet")
        t.markDurable(p0, nextOffset: 10)
        #expect(t.pendingCommits() == [TopicPartitionOffset(p0, offset: 10)])
        t.markCommitted(t.pendingCommits())
        #expect(t.pendingCommits().isEmpty)
        t.markDurable(p0, nextOffset: 7)  // an older batch never moves it back
        #expect(t.pendingCommits().isEmpty)
        t.markDurable(p1, nextOffset: 3)
        t.markDurable(p0, nextOffset: 12)
        #expect(t.pendingCommits() == [TopicPartitionOffset(p0, offset: 12), TopicPartitionOffset(p1, offset: 3)])
    }

    @Test func revokeHandsOverPendingAndForgets() {
        var t = CommitTracker()
        t.assign([p0, p1])
        t.markDurable(p0, nextOffset: 5)
        t.markDurable(p1, nextOffset: 8)
        #expect(t.revoke([p1]) == [TopicPartitionOffset(p1, offset: 8)])
        #expect(!t.owns(p1))
        t.markDurable(p1, nextOffset: 9)  // a batch that raced the revocation
        #expect(t.pendingCommits() == [TopicPartitionOffset(p0, offset: 5)])
    }

    @Test func lostPartitionsCommitNothing() {
        var t = CommitTracker()
        t.assign([p0])
        t.markDurable(p0, nextOffset: 5)
        t.lose([p0])
        #expect(t.pendingCommits().isEmpty)
        #expect(t.owned.isEmpty)
        t.assign([p0])  // reassigned: starts fresh, from what the group committed
        #expect(t.pendingCommits().isEmpty)
    }
}

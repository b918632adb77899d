import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianStores
import GuardianWorker
import Testing

/// The worker's decisions without servers: buffering, one write at a time, pause/resume, commits only
/// of durable offsets, epochs across revocations, stop.
typealias A = PipelineStateMachine.Action

@Suite struct PipelineStateMachineTests {
    let p0 = TopicPartition("t", 0)
    let p1 = TopicPartition("t", 1)

    /// A batch of `count` messages of `tp` from `from` (rejected messages stand in for events: the
    /// machine only looks at partitions and offsets).
    func batch(_ tp: TopicPartition, from: Int64, count: Int) -> DecodedBatch {
        var b = DecodedBatch()
        for o in from..<(from + Int64(count)) {
            b.rejected.append(RejectedMessage(topicPartition: tp, offset: o, key: nil, value: [], rejection: EventRejection(.malformed, "x")))
        }
        b.nextOffsets[tp] = from + Int64(count)
        return b
    }

    func commits(_ actions: [PipelineStateMachine.Action]) -> [TopicPartitionOffset] {
        actions.flatMap { action -> [TopicPartitionOffset] in
            if case .commit(let o) = action { return o }
            return []
        }
    }

    @Test func writesOneBatchAtATimeInOrderAndCommitsOnlyDurableOffsets() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 1)
        m.assigned([p0, p1])
        let polled1 = m.polled(batch(p0, from: 0, count: 5), bytes: 10)
        #expect(polled1)
        let polled2 = m.polled(batch(p0, from: 5, count: 5), bytes: 10)
        #expect(polled2)
        let first = m.nextWrite()
        #expect(first?.decoded.nextOffsets[p0] == 5)
        let nextWrite1 = m.nextWrite()
        #expect(nextWrite1 == nil, "one write at a time")
        #expect(commits(m.flowControl()).isEmpty, "nothing durable yet")
        m.writeFinished(durable: true)
        #expect(commits(m.flowControl()) == [TopicPartitionOffset(p0, offset: 5)])
        m.committed([TopicPartitionOffset(p0, offset: 5)])
        #expect(commits(m.flowControl()).isEmpty, "committed once")
        let nextWrite2 = m.nextWrite()
        #expect(nextWrite2?.decoded.nextOffsets[p0] == 10)
        m.writeFinished(durable: false)  // abandoned: never committed
        #expect(commits(m.flowControl()).isEmpty)
        #expect(m.isIdle && m.bufferedBytes == 0)
    }

    /// What queued while a write was under way goes in the next write, together (up to the limit), in
    /// order; its durable offsets are each partition's newest.
    @Test func batchesQueuedDuringAWriteAreWrittenTogether() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 12)
        m.assigned([p0, p1])
        _ = m.polled(batch(p0, from: 0, count: 5), bytes: 10)
        _ = m.nextWrite()
        _ = m.polled(batch(p0, from: 5, count: 5), bytes: 10)
        _ = m.polled(batch(p1, from: 0, count: 4), bytes: 10)
        _ = m.polled(batch(p0, from: 10, count: 2), bytes: 10)  // 11 with the two before: still fits
        _ = m.polled(batch(p1, from: 4, count: 3), bytes: 10)   // 14: the next write's
        m.writeFinished(durable: true)
        let merged = m.nextWrite()
        #expect(merged?.decoded.messageCount == 11)
        #expect(merged?.decoded.nextOffsets == [p0: 12, p1: 4])
        #expect(merged?.decoded.rejected.map(\.offset) == [5, 6, 7, 8, 9, 0, 1, 2, 3, 10, 11], "in polling order")
        m.writeFinished(durable: true)
        #expect(commits(m.flowControl()).sorted { $0.partition < $1.partition }
                == [TopicPartitionOffset(p0, offset: 12), TopicPartitionOffset(p1, offset: 4)])
        #expect(m.nextWrite()?.decoded.nextOffsets == [p1: 7])
        #expect(m.bufferedBytes == 10)
    }

    /// Two lanes: a polled batch is split by partition; each lane's write is under way at once and in
    /// order for its partitions; a partition's offsets become committable only when its own lane's
    /// write is durable; the buffer's bytes are shared out and all come back.
    @Test func lanesWriteTheirOwnPartitionsAtOnceEachInOrder() {
        let p2 = TopicPartition("t", 2), p3 = TopicPartition("t", 3)
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 100, writeLanes: 2)
        m.assigned([p0, p1, p2, p3])
        var mixed = batch(p0, from: 0, count: 3)
        for (tp, n) in [(p1, 2), (p2, 4), (p3, 1)] {
            mixed.rejected += batch(tp, from: 0, count: n).rejected
            mixed.nextOffsets[tp] = Int64(n)
        }
        let queued = m.polled(mixed, bytes: 101)
        #expect(queued)
        #expect(m.lane(of: p0) == 0 && m.lane(of: p1) == 1 && m.lane(of: p2) == 0 && m.lane(of: p3) == 1)
        let even = m.nextWrite(lane: 0), odd = m.nextWrite(lane: 1)
        #expect(even?.decoded.nextOffsets == [p0: 3, p2: 4])
        #expect(odd?.decoded.nextOffsets == [p1: 2, p3: 1], "the other lane's write is under way at the same time")
        let again0 = m.nextWrite(lane: 0), again1 = m.nextWrite(lane: 1)
        #expect(again0 == nil && again1 == nil, "one write at a time per lane")
        #expect(m.writingIsOwned(lane: 0) && m.writingIsOwned(lane: 1))
        _ = m.polled(batch(p2, from: 4, count: 2), bytes: 7)
        m.writeFinished(lane: 1, durable: true)
        #expect(commits(m.flowControl()).sorted { $0.partition < $1.partition }
                == [TopicPartitionOffset(p1, offset: 2), TopicPartitionOffset(p3, offset: 1)], "only the durable lane's partitions")
        let odd2 = m.nextWrite(lane: 1)
        #expect(odd2 == nil, "nothing queued for the odd lane")
        m.writeFinished(lane: 0, durable: true)
        #expect(commits(m.flowControl()).sorted { $0.partition < $1.partition }
                == [TopicPartitionOffset(p0, offset: 3), TopicPartitionOffset(p1, offset: 2),
                    TopicPartitionOffset(p2, offset: 4), TopicPartitionOffset(p3, offset: 1)])
        let even2 = m.nextWrite(lane: 0)
        #expect(even2?.decoded.nextOffsets == [p2: 6], "the lane's next batch, after its first")
        m.writeFinished(lane: 0, durable: true)
        #expect(m.isIdle && m.bufferedBytes == 0, "every byte shared out to the lanes came back")
    }

    /// A revoked partition's lane gives up its failing write; the other lane's write is still owned.
    @Test func ownershipOfAWriteIsPerLane() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 100, writeLanes: 2)
        m.assigned([p0, p1])
        var mixed = batch(p0, from: 0, count: 2)
        mixed.rejected += batch(p1, from: 0, count: 2).rejected
        mixed.nextOffsets[p1] = 2
        _ = m.polled(mixed, bytes: 10)
        _ = m.nextWrite(lane: 0)
        _ = m.nextWrite(lane: 1)
        _ = m.revoked([p1])
        #expect(m.writingIsOwned(lane: 0))
        #expect(!m.writingIsOwned(lane: 1))
        m.writeFinished(lane: 1, durable: true)
        m.writeFinished(lane: 0, durable: true)
        #expect(commits(m.flowControl()) == [TopicPartitionOffset(p0, offset: 2)], "nothing for the revoked partition")
        #expect(m.bufferedBytes == 0)
    }

    @Test func dropsMessagesOfPartitionsNotOwned() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 1)
        m.assigned([p0])
        let polled3 = m.polled(batch(p1, from: 0, count: 3), bytes: 10)
        #expect(!polled3, "fetched before a revocation: dropped")
        var mixed = batch(p0, from: 0, count: 2)
        mixed.rejected += batch(p1, from: 0, count: 2).rejected
        mixed.nextOffsets[p1] = 2
        let polled4 = m.polled(mixed, bytes: 10)
        #expect(polled4)
        let w = m.nextWrite()
        #expect(w?.decoded.nextOffsets.keys.sorted { $0.partition < $1.partition } == [p0])
        #expect(w?.decoded.messageCount == 2)
    }

    @Test func pausesWhenTheBufferIsFullAndResumesUnderHalf() {
        var m = PipelineStateMachine(maxBufferedBytes: 100, maxEventsPerWrite: 1)
        m.assigned([p0, p1])
        let polled5 = m.polled(batch(p0, from: 0, count: 1), bytes: 60)
        #expect(polled5)
        let flowControl1 = m.flowControl()
        #expect(flowControl1.isEmpty, "under the limit")
        let polled6 = m.polled(batch(p1, from: 0, count: 1), bytes: 60)
        #expect(polled6)
        let flowControl2 = m.flowControl()
        #expect(flowControl2 == [A.pause([p0, p1])])
        let flowControl3 = m.flowControl()
        #expect(flowControl3.isEmpty, "paused once")
        #expect(m.paused == [p0, p1])
        _ = m.nextWrite()
        m.writeFinished(durable: true)  // 60 left: over half
        let flowControl4 = m.flowControl()
        #expect(flowControl4 == [A.commit([TopicPartitionOffset(p0, offset: 1)])])
        m.committed([TopicPartitionOffset(p0, offset: 1)])
        _ = m.nextWrite()
        m.writeFinished(durable: true)  // 0 left
        let flowControl5 = m.flowControl()
        #expect(flowControl5 == [A.resume([p0, p1]), A.commit([TopicPartitionOffset(p1, offset: 1)])])
        #expect(m.paused.isEmpty)
    }

    @Test func partitionsAssignedWhileFullArePausedToo() {
        var m = PipelineStateMachine(maxBufferedBytes: 10, maxEventsPerWrite: 1)
        m.assigned([p0])
        _ = m.polled(batch(p0, from: 0, count: 1), bytes: 20)
        let flowControl6 = m.flowControl()
        #expect(flowControl6 == [A.pause([p0])])
        m.assigned([p1])
        let flowControl7 = m.flowControl()
        #expect(flowControl7 == [A.pause([p1])])
    }

    @Test func revokedPartitionsLeaveTheBufferAndAnOlderEpochNeverMovesTheDurableMark() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 1)
        m.assigned([p0])
        _ = m.polled(batch(p0, from: 0, count: 5), bytes: 10)
        _ = m.polled(batch(p0, from: 5, count: 5), bytes: 10)
        _ = m.nextWrite()  // [0, 5) under way
        let revoked1 = m.revoked([p0])
        #expect(revoked1.isEmpty, "nothing durable to hand over")
        m.assigned([p0])  // back, in a new epoch: it restarts from the committed offset
        m.writeFinished(durable: true)  // the old epoch's write finished late
        #expect(commits(m.flowControl()).isEmpty, "an old epoch's batch does not move the new epoch's mark")
        let nextWrite3 = m.nextWrite()
        #expect(nextWrite3 == nil, "the old epoch's queued batch is dropped, not written")
        #expect(m.bufferedBytes == 0)
    }

    @Test func revokeHandsOverWhatIsDurable() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 1)
        m.assigned([p0, p1])
        _ = m.polled(batch(p0, from: 0, count: 5), bytes: 10)
        _ = m.nextWrite()
        m.writeFinished(durable: true)
        let revoked2 = m.revoked([p0])
        #expect(revoked2 == [TopicPartitionOffset(p0, offset: 5)])
        #expect(m.tracker.owned == [p1])
        m.lost([p1])
        #expect(m.tracker.owned.isEmpty)
        #expect(commits(m.flowControl()).isEmpty)
    }

    @Test func aPartitionStartingAtACheckpointCommitsItEvenWithNothingNew() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 1)
        m.assigned([p0, p1], durableUpTo: [p0: 250])
        #expect(commits(m.flowControl()) == [TopicPartitionOffset(p0, offset: 250)])
    }

    @Test func stopDropsWhatIsQueuedAndStartsNothing() {
        var m = PipelineStateMachine(maxBufferedBytes: 1000, maxEventsPerWrite: 1)
        m.assigned([p0])
        _ = m.polled(batch(p0, from: 0, count: 5), bytes: 10)
        _ = m.polled(batch(p0, from: 5, count: 3), bytes: 10)
        _ = m.nextWrite()
        let stop1 = m.stop()
        #expect(stop1 == 3)
        let nextWrite4 = m.nextWrite()
        #expect(nextWrite4 == nil)
        let polled7 = m.polled(batch(p0, from: 8, count: 1), bytes: 10)
        #expect(!polled7)
        m.writeFinished(durable: true)  // the in-flight write may still finish and be committed
        #expect(commits(m.flowControl()) == [TopicPartitionOffset(p0, offset: 5)])
        #expect(m.bufferedBytes == 0)
    }
}

/// Where a partition starts when its committed offset is unusable.
@Suite struct StartOffsetRuleTests {
    let tp = TopicPartition("t", 3)

    /// `recorded`: the offset the group had committed when it wrote the checkpoint (default: the
    /// committed offset itself, the routine case).
    /// `stored`: the digest the checkpoint recorded of its last record; `inLog`: the digest read from the
    /// log at that offset (default: the same record, the routine case; nil: not read).
    func decide(committed: Int64?, low: Int64 = 100, high: Int64 = 500, checkpoint: Int64?, recorded: Int64?? = .none,
                stored: Int64? = 7, inLog: Int64? = 7, skipDurable: Bool = true) -> StartOffsetRule.Decision? {
        let entry = checkpoint.map { Checkpoints.Entry(nextOffset: $0, committedOffset: recorded ?? committed, lastRecord: stored) }
        let partitions = [AssignedPartition(topicPartition: tp, committed: committed, low: low, high: high)]
        let checkpoints = entry.map { [Int32(3): $0] } ?? [:]
        // The worker reads only what the rule asks for.
        let asked = StartOffsetRule.recordsToVerify(partitions, checkpoints: checkpoints, skipDurable: skipDurable)
        var logRecords: [TopicPartition: Int64] = [:]
        if let inLog, let checkpoint, asked == [TopicPartitionOffset(tp, offset: checkpoint - 1)] { logRecords[tp] = inLog }
        return StartOffsetRule.decide(partitions, checkpoints: checkpoints, logRecords: logRecords, skipDurable: skipDurable).first
    }

    @Test func aUsableCommittedOffsetIsKeptUnlessTheCheckpointIsAhead() {
        #expect(decide(committed: 500, checkpoint: 400) == nil, "the committed offset is past the checkpoint")
        #expect(decide(committed: 300, checkpoint: 300) == nil)
        #expect(decide(committed: nil, checkpoint: nil) == nil, "nothing known: auto.offset.reset=earliest")
        #expect(decide(committed: 100, checkpoint: 400) == .init(topicPartition: tp, offset: 400, reason: .checkpointAhead, checkpoint: 400),
                "written but not committed by the previous owner: not read again")
        #expect(decide(committed: 100, checkpoint: 400)?.reason.isAlert == false)
        #expect(decide(committed: 100, checkpoint: 400, skipDurable: false) == nil, "off: the committed offset wins")
        #expect(decide(committed: 100, checkpoint: 900) == nil, "a checkpoint past the end belongs to an older log")
    }

    /// Issue 16, item 2: the committed offset is not where the group itself last committed (an outside
    /// rewind, or a record that lags a commit): it is kept, and said so; never skipped over.
    @Test func aCommittedOffsetMovedBySomeoneElseIsHonoured() {
        let rewound = decide(committed: 100, checkpoint: 400, recorded: 350)
        #expect(rewound == .init(topicPartition: tp, offset: 100, reason: .committedMovedElsewhere, checkpoint: 400))
        #expect(rewound?.reason.isAlert == false)
        #expect(decide(committed: 100, checkpoint: 400, recorded: .some(nil))?.offset == 100, "nothing recorded: no skip")
    }

    @Test func noCommittedOffsetResumesFromTheCheckpoint() {
        #expect(decide(committed: nil, checkpoint: 300) == .init(topicPartition: tp, offset: 300, reason: .noCommittedOffset, checkpoint: 300))
        #expect(decide(committed: nil, checkpoint: 50)?.offset == 100, "clamped to what the log still holds")
    }

    @Test func outOfRangeResumesFromTheCheckpointNeverFromTheEnd() {
        #expect(decide(committed: 20, checkpoint: 250) == .init(topicPartition: tp, offset: 250, reason: .committedOutOfRange, checkpoint: 250))
        #expect(decide(committed: 20, checkpoint: nil)?.offset == 100, "no checkpoint: the oldest offset")
        #expect(decide(committed: 900, checkpoint: 880)?.offset == 100, "log recreated: read all of the new one")
        #expect(decide(committed: 900, low: 0, high: 10, checkpoint: nil)?.offset == 0)
    }

    /// Issue 16: a checkpoint is honoured only when the log still holds the record it ends at — not after
    /// the topic was recreated, nor on another cluster whose offsets differ.
    @Test func aCheckpointIsHonouredOnlyWhenTheLogHoldsItsLastRecord() {
        #expect(decide(committed: 100, checkpoint: 400, inLog: 8)
                == .init(topicPartition: tp, offset: 100, reason: .checkpointUnverified, checkpoint: 400),
                "another record there: nothing skipped")
        #expect(decide(committed: 100, checkpoint: 400, inLog: nil)?.offset == 100, "not read (a timeout): nothing skipped")
        #expect(decide(committed: 100, checkpoint: 400, stored: nil)?.offset == 100, "a row from before digests: nothing skipped")
        #expect(decide(committed: nil, checkpoint: 300, inLog: 8)
                == .init(topicPartition: tp, offset: 100, reason: .checkpointNotInLog, checkpoint: 300),
                "unusable committed offset and another log: all of it is read, said as an alert")
        #expect(decide(committed: nil, checkpoint: 300, inLog: 8)?.reason.isAlert == true)
        #expect(decide(committed: 20, checkpoint: 250, inLog: nil)?.offset == 100, "not read: all of it")
        #expect(decide(committed: nil, checkpoint: 300, stored: nil)?.offset == 300, "a row from before digests still recovers")
        #expect(decide(committed: nil, checkpoint: 100, inLog: nil)?.offset == 100, "a checkpoint at the oldest offset needs no check")
    }

    @Test func onlyCheckpointsThatCouldBeHonouredAreRead() {
        func asked(_ committed: Int64?, _ entry: Checkpoints.Entry) -> [TopicPartitionOffset] {
            StartOffsetRule.recordsToVerify([AssignedPartition(topicPartition: tp, committed: committed, low: 100, high: 500)],
                                            checkpoints: [3: entry])
        }
        #expect(asked(100, .init(nextOffset: 400, committedOffset: 100, lastRecord: 1)) == [TopicPartitionOffset(tp, offset: 399)])
        #expect(asked(nil, .init(nextOffset: 400, lastRecord: 1)) == [TopicPartitionOffset(tp, offset: 399)])
        #expect(asked(100, .init(nextOffset: 400, committedOffset: 50, lastRecord: 1)).isEmpty, "a rewind is kept anyway")
        #expect(asked(450, .init(nextOffset: 400, committedOffset: 450, lastRecord: 1)).isEmpty, "committed past it")
        #expect(asked(100, .init(nextOffset: 400, committedOffset: 100)).isEmpty, "no digest to check")
        #expect(asked(nil, .init(nextOffset: 900, lastRecord: 1)).isEmpty, "past the end")
    }
}

/// Which database failures are the data's fault (dead letter) and which are the database's (retry).
@Suite struct PostgresErrorClassificationTests {
    @Test func dataErrorsArePoisonEverythingElseIsRetried() {
        for state in ["22021", "22P05", "22003", "23514", "23502", "23503"] {
            let e = PostgresError(.query, "x", sqlState: state)
            #expect(e.isDataError && !e.isTransient, "\(state)")
        }
        #expect(!PostgresError(.copy, "x", sqlState: "23505").isDataError, "a unique violation is a redelivery")
        for state in ["40P01", "40001", "53100", "53200", "25006", "57014", "55P03", "57P01", "08006", "58030"] {
            let e = PostgresError(.query, "x", sqlState: state)
            #expect(e.isTransient && !e.isDataError, "\(state)")
        }
        #expect(PostgresError(.copy, "COPY data could not be sent: server closed the connection").isConnectionFailure,
                "a COPY that lost its connection mid-stream")
        #expect(PostgresError(.closed, "x").isTransient)
    }
}

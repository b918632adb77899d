import GuardianEvents
import GuardianKafka
import GuardianWorker
import Testing

/// Decoding a poll whose partitions come in interleaved runs, and splitting a batch into lanes.
@Suite struct BatchDecoderTests {
    let p0 = TopicPartition("t", 0)
    let p1 = TopicPartition("t", 1)

    func message(_ tp: TopicPartition, _ offset: Int64, symbol: String = "AAPL", seq: Int64 = 1, valid: Bool = true) -> KafkaMessage {
        let event = GuardianEvent(eventID: .random(), symbol: symbol, seq: seq, ts: 1_700_000_000_000_000_000 + offset, kind: .orderCheck)
        let value = valid ? EventEncoder().encode(event) : Array("{not json".utf8)
        return KafkaMessage(topic: tp.topic, partition: tp.partition, offset: offset, key: Array(symbol.utf8), value: value, timestampMs: nil)
    }

    /// Runs p0 0-1, p1 5, p0 2 (invalid), p1 6: each partition's next offset and last-record digest are
    /// its newest message's, whichever run it is in and whether or not it decoded.
    @Test func nextOffsetsAndDigestsAreEachPartitionsNewestMessage() {
        let messages = [message(p0, 0), message(p0, 1), message(p1, 5), message(p0, 2, valid: false), message(p1, 6)]
        let batch = BatchDecoder().decode(messages)
        #expect(batch.nextOffsets == [p0: 3, p1: 7])
        #expect(batch.lastRecords == [p0: messages[3].recordDigest, p1: messages[4].recordDigest])
        #expect(batch.events.map(\.offset) == [0, 1, 5, 6])
        #expect(batch.rejected.map(\.offset) == [2])
    }

    /// A lane split keeps each part's order, its partitions' offsets and digests, and its rejected messages.
    @Test func splittingKeepsOrderPerPart() {
        let messages = [message(p0, 0), message(p1, 0), message(p0, 1), message(p1, 1, valid: false), message(p1, 2), message(p0, 2)]
        let batch = BatchDecoder().decode(messages)
        let parts = batch.split(into: 2) { Int($0.partition) }
        #expect(parts[0].events.map(\.offset) == [0, 1, 2] && parts[0].events.allSatisfy { $0.partition == 0 })
        #expect(parts[1].events.map(\.offset) == [0, 2] && parts[1].events.allSatisfy { $0.partition == 1 })
        #expect(parts[0].sources.map(\.offset) == [0, 1, 2] && parts[1].sources.map(\.offset) == [0, 2])
        #expect(parts[1].rejected.map(\.offset) == [1] && parts[0].rejected.isEmpty)
        #expect(parts[0].nextOffsets == [p0: 3] && parts[1].nextOffsets == [p1: 3])
        #expect(parts[0].lastRecords == [p0: messages[5].recordDigest] && parts[1].lastRecords == [p1: messages[4].recordDigest])
        let onlyP1 = batch.filtered { $0 == p1 }
        #expect(onlyP1.events.map(\.offset) == [0, 2] && onlyP1.nextOffsets == [p1: 3])
    }
}

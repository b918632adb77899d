import GuardianEvents
import GuardianKafka
import GuardianStores

/// A message that is not a valid v1 event, with where it came from and its original bytes.
package struct RejectedMessage: Sendable {
    package var topicPartition: TopicPartition
    package var offset: Int64
    package var key: [UInt8]?
    package var value: [UInt8]
    package var rejection: EventRejection

    package init(topicPartition: TopicPartition, offset: Int64, key: [UInt8]?, value: [UInt8], rejection: EventRejection) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.key = key
        self.value = value
        self.rejection = rejection
    }
}

/// One polled batch, decoded: the valid events with their origin, the rejected messages, and per
/// partition the offset after the batch's last message (valid or not).
package struct DecodedBatch: Sendable {
    package var events: [StoredEvent] = []
    package var rejected: [RejectedMessage] = []
    package var nextOffsets: [TopicPartition: Int64] = [:]
    /// Per partition, the digest of the batch's last message (`KafkaMessage.recordDigest`), recorded with
    /// the checkpoint so that a resume can check it against the log.
    package var lastRecords: [TopicPartition: Int64] = [:]
    /// The original messages of `events`, in the same order (for dead-lettering a row the database refuses).
    package var sources: [KafkaMessage] = []
    package var messageCount: Int { events.count + rejected.count }

    package init() {}

    /// Appends a later batch (its offsets follow this one's in every partition they share).
    package mutating func append(_ later: DecodedBatch) {
        events += later.events
        sources += later.sources
        rejected += later.rejected
        for (tp, next) in later.nextOffsets where next > nextOffsets[tp] ?? -1 {
            nextOffsets[tp] = next
            lastRecords[tp] = later.lastRecords[tp]
        }
    }

    /// The part of the batch whose partitions satisfy `keep` (asked once per partition).
    package func filtered(_ keep: (TopicPartition) -> Bool) -> DecodedBatch {
        // The usual case (every partition kept, once per poll) allocates nothing.
        guard !nextOffsets.keys.allSatisfy(keep) else { return self }
        let kept = Set(nextOffsets.keys.filter(keep))
        return split(into: 1) { kept.contains($0) ? 0 : nil }[0]
    }

    /// The batch split into `parts` batches in one pass: each message goes to part `part(partition)`
    /// (asked once per partition), or nowhere when that is nil. Order is kept within each part.
    package func split(into parts: Int, by part: (TopicPartition) -> Int?) -> [DecodedBatch] {
        var partOf: [TopicPartition: Int] = [:]
        for tp in nextOffsets.keys { if let p = part(tp) { partOf[tp] = p } }
        var out = Array(repeating: DecodedBatch(), count: parts)
        for tp in nextOffsets.keys {
            guard let p = partOf[tp] else { continue }
            out[p].nextOffsets[tp] = nextOffsets[tp]
            out[p].lastRecords[tp] = lastRecords[tp]
        }
        // Messages come in runs of one partition: look the part up once per run.
        var runTP: TopicPartition?
        var runPart: Int?
        for (i, s) in sources.enumerated() {
            if s.topicPartition != runTP {
                runTP = s.topicPartition
                runPart = partOf[s.topicPartition]
            }
            guard let p = runPart else { continue }
            out[p].events.append(events[i])
            out[p].sources.append(s)
        }
        for r in rejected {
            if let p = partOf[r.topicPartition] { out[p].rejected.append(r) }
        }
        return out
    }
}

/// Decodes a batch of messages. Holds an `EventDecoder` (reused buffers): one per worker.
package final class BatchDecoder {
    private let decoder: EventDecoder

    package init(maxEventBytes: Int = GuardianEvent.defaultMaxEventBytes) {
        decoder = EventDecoder(maxEventBytes: maxEventBytes)
    }

    /// False when the decoder could not allocate its buffers (out of memory): nothing can be decoded.
    package var isUsable: Bool { decoder.isUsable }

    package func decode(_ messages: [KafkaMessage]) -> DecodedBatch {
        var batch = DecodedBatch()
        batch.events.reserveCapacity(messages.count)
        batch.sources.reserveCapacity(messages.count)
        // Per partition, the index of its newest message: its digest is taken once, after the loop
        // (hashing every message's bytes cost 5 % of a draining worker's CPU).
        var newest: [TopicPartition: Int] = [:]
        var runTP: TopicPartition?
        for (i, m) in messages.enumerated() {
            let tp = m.topicPartition
            if tp != runTP, let previous = runTP { Self.note(i - 1, of: previous, in: messages, newest: &newest) }
            runTP = tp
            // A message without a key fails the key = symbol rule.
            switch decoder.decode(m.value, key: m.key ?? []) {
            case .success(let event):
                batch.events.append(StoredEvent(event: event, partition: m.partition, offset: m.offset))
                batch.sources.append(m)
            case .failure(let rejection):
                batch.rejected.append(RejectedMessage(topicPartition: tp, offset: m.offset, key: m.key, value: m.value, rejection: rejection))
            }
        }
        if let last = runTP { Self.note(messages.count - 1, of: last, in: messages, newest: &newest) }
        for (tp, i) in newest {
            batch.nextOffsets[tp] = messages[i].offset + 1
            batch.lastRecords[tp] = messages[i].recordDigest
        }
        return batch
    }

    /// Message `index` ends a run of `tp`: it is the partition's newest unless an earlier run went further.
    private static func note(_ index: Int, of tp: TopicPartition, in messages: [KafkaMessage], newest: inout [TopicPartition: Int]) {
        if let known = newest[tp], messages[known].offset >= messages[index].offset { return }
        newest[tp] = index
    }
}

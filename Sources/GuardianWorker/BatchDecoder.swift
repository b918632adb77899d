import GuardianEvents
import GuardianKafka
import GuardianStores

/// A message that is not a valid v1 event, with where it came from and its original bytes.
public struct RejectedMessage: Sendable {
    public var topicPartition: TopicPartition
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    public var rejection: EventRejection

    public init(topicPartition: TopicPartition, offset: Int64, key: [UInt8]?, value: [UInt8], rejection: EventRejection) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.key = key
        self.value = value
        self.rejection = rejection
    }
}

/// One polled batch, decoded: the valid events with their origin, the rejected messages, and per
/// partition the offset after the batch's last message (valid or not).
public struct DecodedBatch: Sendable {
    public var events: [StoredEvent] = []
    public var rejected: [RejectedMessage] = []
    public var nextOffsets: [TopicPartition: Int64] = [:]
    /// Per partition, the digest of the batch's last message (`KafkaMessage.recordDigest`), recorded with
    /// the checkpoint so that a resume can check it against the log.
    public var lastRecords: [TopicPartition: Int64] = [:]
    /// The original messages of `events`, in the same order (for dead-lettering a row the database refuses).
    public var sources: [KafkaMessage] = []
    public var messageCount: Int { events.count + rejected.count }

    public init() {}

    /// Appends a later batch (its offsets follow this one's in every partition they share).
    public mutating func append(_ later: DecodedBatch) {
        events += later.events
        sources += later.sources
        rejected += later.rejected
        for (tp, next) in later.nextOffsets where next > nextOffsets[tp] ?? -1 {
            nextOffsets[tp] = next
            lastRecords[tp] = later.lastRecords[tp]
        }
    }

    /// The part of the batch whose partitions satisfy `keep`.
    public func filtered(_ keep: (TopicPartition) -> Bool) -> DecodedBatch {
        guard !nextOffsets.keys.allSatisfy(keep) else { return self }
        var out = DecodedBatch()
        for (i, s) in sources.enumerated() where keep(s.topicPartition) {
            out.events.append(events[i])
            out.sources.append(s)
        }
        out.rejected = rejected.filter { keep($0.topicPartition) }
        out.nextOffsets = nextOffsets.filter { keep($0.key) }
        out.lastRecords = lastRecords.filter { keep($0.key) }
        return out
    }
}

/// Decodes a batch of messages. Holds an `EventDecoder` (reused buffers): one per worker.
public final class BatchDecoder {
    private let decoder: EventDecoder

    public init(maxEventBytes: Int = GuardianEvent.defaultMaxEventBytes) {
        decoder = EventDecoder(maxEventBytes: maxEventBytes)
    }

    /// False when the decoder could not allocate its buffers (out of memory): nothing can be decoded.
    public var isUsable: Bool { decoder.isUsable }

    public func decode(_ messages: [KafkaMessage]) -> DecodedBatch {
        var batch = DecodedBatch()
        batch.events.reserveCapacity(messages.count)
        batch.sources.reserveCapacity(messages.count)
        for m in messages {
            let tp = m.topicPartition
            if m.offset + 1 > batch.nextOffsets[tp] ?? 0 {
                batch.nextOffsets[tp] = m.offset + 1
                batch.lastRecords[tp] = m.recordDigest
            }
            // A message without a key fails the key = symbol rule.
            switch decoder.decode(m.value, key: m.key ?? []) {
            case .success(let event):
                batch.events.append(StoredEvent(event: event, partition: m.partition, offset: m.offset))
                batch.sources.append(m)
            case .failure(let rejection):
                batch.rejected.append(RejectedMessage(topicPartition: tp, offset: m.offset, key: m.key, value: m.value, rejection: rejection))
            }
        }
        return batch
    }
}

import GuardianEvents
import GuardianKafka
import GuardianStores

/// A message that is not a valid v1 event, with where it came from.
public struct RejectedMessage: Sendable {
    public var topicPartition: TopicPartition
    public var offset: Int64
    public var rejection: EventRejection
}

/// One polled batch, decoded: the valid events with their origin, the rejected messages, and per
/// partition the offset after the batch's last message (valid or not).
public struct DecodedBatch: Sendable {
    public var events: [StoredEvent] = []
    public var rejected: [RejectedMessage] = []
    public var nextOffsets: [TopicPartition: Int64] = [:]
    public var messageCount: Int { events.count + rejected.count }
}

/// Decodes a batch of messages. Holds an `EventDecoder` (reused buffers): one per worker.
public final class BatchDecoder {
    private let decoder = EventDecoder()

    public init() {}

    public func decode(_ messages: [KafkaMessage]) -> DecodedBatch {
        var batch = DecodedBatch()
        batch.events.reserveCapacity(messages.count)
        for m in messages {
            let tp = m.topicPartition
            batch.nextOffsets[tp] = max(batch.nextOffsets[tp] ?? 0, m.offset + 1)
            // A message without a key fails the key = symbol rule.
            switch decoder.decode(m.value, key: m.key ?? []) {
            case .success(let event):
                batch.events.append(StoredEvent(event: event, partition: m.partition, offset: m.offset))
            case .failure(let rejection):
                batch.rejected.append(RejectedMessage(topicPartition: tp, offset: m.offset, rejection: rejection))
            }
        }
        return batch
    }
}

/// One message read by a consumer, copied out of librdkafka's buffers.
public struct KafkaMessage: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    /// The message timestamp in milliseconds since the Unix epoch, when the broker or producer set one.
    public var timestampMs: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], timestampMs: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestampMs = timestampMs
    }

    /// The key as UTF-8 text (invalid bytes replaced).
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    /// The value as UTF-8 text (invalid bytes replaced).
    public var valueString: String { String(decoding: value, as: UTF8.self) }
    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }

    /// A digest of the key and the value (FNV-1a, 64 bits): what a checkpoint remembers of the record it
    /// ends at, to tell the same log from another one with the same offsets (a recreated topic, a
    /// disaster-recovery cluster). Not for security; collisions only make a check pass that should fail
    /// with a probability of 2⁻⁶⁴.
    public var recordDigest: Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func mix(_ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        // The key's length first (with a marker for no key), so key and value never run together.
        let keyLength = key.map { UInt64($0.count) } ?? UInt64.max
        for i in 0..<8 { mix(UInt8(truncatingIfNeeded: keyLength >> (8 * UInt64(i)))) }
        for b in key ?? [] { mix(b) }
        for b in value { mix(b) }
        return Int64(bitPattern: h)
    }
}

/// What one consumer poll returned: the messages, and per-partition errors that did not
/// stop the poll (for example an offset out of range), which the caller must decide about.
public struct KafkaBatch: Sendable {
    public var messages: [KafkaMessage]
    public var errors: [KafkaConsumerError]
    public init(messages: [KafkaMessage] = [], errors: [KafkaConsumerError] = []) {
        self.messages = messages
        self.errors = errors
    }
}

/// An error the consumer reported for a partition (or for the client when `topicPartition` is nil).
public struct KafkaConsumerError: Sendable {
    public var topicPartition: TopicPartition?
    public var offset: Int64?
    public var error: KafkaError
}

/// A change of the partitions this consumer owns.
public enum RebalanceEvent: Sendable, Equatable {
    /// These partitions are now owned by this consumer (added to what it had, under cooperative assignment).
    case assigned([TopicPartition])
    /// These partitions are about to move away. The handler returns the offsets to commit for them
    /// (only offsets whose messages are durable) before the consumer gives them up.
    case revoked([TopicPartition])
    /// These partitions were lost without a clean revoke (session timeout): another member may
    /// already own them, so nothing can be committed for them.
    case lost([TopicPartition])
}

/// A partition being assigned to a consumer, with what its group committed and what the log holds.
public struct AssignedPartition: Sendable, Equatable {
    public var topicPartition: TopicPartition
    /// The group's committed offset (next to read), nil when none.
    public var committed: Int64?
    /// The oldest offset the log still holds (low watermark).
    public var low: Int64
    /// The end of the log (high watermark).
    public var high: Int64

    public init(topicPartition: TopicPartition, committed: Int64?, low: Int64, high: Int64) {
        self.topicPartition = topicPartition
        self.committed = committed
        self.low = low
        self.high = high
    }
}

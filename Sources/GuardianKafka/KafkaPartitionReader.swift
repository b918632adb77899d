import CRdKafka
import GuardianSupport

/// Reads single messages at given offsets, outside any consumer group (assign, never subscribe or
/// commit): the timestamp of the oldest unconsumed message for time lag, and the probes of a binary
/// search over timestamps where the broker cannot look offsets up by time. Blocking calls run on its
/// own thread.
public final class KafkaPartitionReader: Sendable {
    private let handle: KafkaHandle
    private let thread: DedicatedThread

    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        var defaults = KafkaConsumer.defaultProperties
        // librdkafka wants a group id for its consumer type; this one never joins (no subscribe) or commits.
        defaults["group.id"] = "guardian-reader"
        defaults["auto.offset.reset"] = "earliest"
        // One message per partition is wanted: keep the prefetch small.
        defaults["queued.max.messages.kbytes"] = "1024"
        defaults["fetch.max.bytes"] = "1048576"
        let conf = try configuration.makeConf(defaults: defaults, enforced: KafkaConsumer.enforcedProperties)
        handle = try KafkaHandle(type: RD_KAFKA_CONSUMER, conf: conf)
        rd_kafka_poll_set_consumer(handle.pointer)
        thread = DedicatedThread(name: "kafka-reader")
    }

    deinit {
        _ = rd_kafka_consumer_close(handle.pointer)
        thread.shutdown()
    }

    /// The first message at or after each requested offset (an offset the log no longer holds reads
    /// from the oldest it does). Ask only for offsets below the partition's end: a partition with
    /// nothing there is left out of the answer once `timeout` passes.
    public func messages(at offsets: [TopicPartitionOffset], timeout: Duration = .seconds(10)) async throws -> [TopicPartition: KafkaMessage] {
        guard !offsets.isEmpty else { return [:] }
        let handle = self.handle
        let ms = timeout.milliseconds
        return try await thread.run { try Self.read(handle.pointer, offsets, timeoutMs: ms) }
    }

    private static func read(_ rk: OpaquePointer, _ offsets: [TopicPartitionOffset], timeoutMs: Int32) throws(KafkaError) -> [TopicPartition: KafkaMessage] {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        var err = rd_kafka_assign(rk, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.query, context: "assign for reading", err: err) }
        defer { _ = rd_kafka_assign(rk, nil) }
        let wanted = Dictionary(offsets.map { ($0.topicPartition, $0.offset ?? 0) }, uniquingKeysWith: { a, _ in a })
        var found: [TopicPartition: KafkaMessage] = [:]
        let start = Monotonic.nanoseconds()
        while found.count < wanted.count {
            let left = Int64(timeoutMs) - Int64(Monotonic.seconds(since: start) * 1000)
            if left <= 0 { break }
            guard let m = rd_kafka_consumer_poll(rk, Int32(min(left, 200))) else { continue }
            defer { rd_kafka_message_destroy(m) }
            let msg = m.pointee
            guard let rkt = msg.rkt else { continue }
            let tp = TopicPartition(String(cString: rd_kafka_topic_name(rkt)), msg.partition)
            if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF || msg.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE { continue }
                err = msg.err
                throw KafkaError(.query, context: "reading \(tp)", err: err)
            }
            // A message fetched before this assignment (an earlier probe) can still arrive: skip it.
            guard let target = wanted[tp], found[tp] == nil, msg.offset >= target || target < 0 else { continue }
            var tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let ts = rd_kafka_message_timestamp(m, &tstype)
            found[tp] = KafkaMessage(
                topic: tp.topic, partition: tp.partition, offset: msg.offset,
                key: msg.key.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.key_len)) },
                value: msg.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.len)) } ?? [],
                timestampMs: ts >= 0 ? ts : nil)
        }
        return found
    }
}

import CRdKafka
import GuardianSupport
import Synchronization

/// A high-level (consumer group) Kafka consumer over librdkafka with manual commits.
///
/// Every call into librdkafka runs on the consumer's own dedicated thread, so polls, commits
/// and rebalance callbacks are serialised and never block Swift's cooperative pool.
/// Offsets are never committed automatically: the caller commits what is durable.
public final class KafkaConsumer: @unchecked Sendable {
    /// Called on the consumer thread when partitions are assigned, revoked or lost. For
    /// `.revoked` it returns the offsets to commit before the partitions move (next offset to
    /// read, only for messages that are durable); for the other events the result is ignored.
    /// It may block (for example to finish an in-flight batch): it runs on the consumer's own thread.
    public typealias RebalanceHandler = @Sendable (RebalanceEvent) -> [TopicPartitionOffset]

    /// librdkafka defaults this client sets; `KafkaConfiguration.properties` override them.
    public static let defaultProperties: [String: String] = [
        "auto.offset.reset": "earliest",
        // Takeover after a member dies: its partitions move once the session times out (6 s, the
        // smallest Apache Kafka allows by default) plus one rebalance. Measured with 3 workers at
        // 3,000 events/s and one kill -9: eager `range` had every partition moving again 10 s after
        // the kill and re-read 172 events; librdkafka 2.0.2's cooperative-sticky took ~25 s, lost and
        // regained partitions twice and re-read 32,798 (commits refused through the long rebalance).
        "partition.assignment.strategy": "range",
        "session.timeout.ms": "6000",
        "heartbeat.interval.ms": "1000",
        "enable.partition.eof": "false",
        // A broker with no data when a fetch arrives may hold it this long (the dev broker does even when
        // data arrives meanwhile, so it adds to every event's latency there); 5 ms bounds that, at the cost
        // of more fetches while idle (Apache Kafka answers as soon as data arrives, whatever this is).
        "fetch.wait.max.ms": "5",
        // librdkafka prefetches up to 64 MB per consumer by default. `make bench` (300,000 events drained
        // by one worker, this machine): 32 MB peaked at 175-181 MB of RSS, 8 MB at 127 MB but 25 % slower;
        // 16 MB is the middle (an earlier, faster machine starved at 16 MB only past 75,000 events/s).
        "queued.max.messages.kbytes": "16384",
    ]

    /// Decides where newly assigned partitions start reading, given what the group committed and what
    /// the log holds; returns only the partitions to move (the rest start from their committed offset,
    /// or `auto.offset.reset` when there is none). Runs on the consumer thread, inside a poll; it may block.
    public typealias StartOffsetResolver = @Sendable ([AssignedPartition]) -> [TopicPartitionOffset]

    /// Settings `--kafka` cannot override: offsets are committed by the caller, only once durable.
    public static let enforcedProperties: [String: String] = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
    ]

    /// State touched from librdkafka's rebalance callback; only ever used on the consumer thread.
    private final class Callbacks: @unchecked Sendable {
        let handler: RebalanceHandler
        let resolver: StartOffsetResolver?
        var pendingErrors: [KafkaConsumerError] = []
        /// Whether an assignment was ever received (see `KafkaConsumer.close`).
        let sawAssignment = Atomic<Bool>(false)
        init(handler: @escaping RebalanceHandler, resolver: StartOffsetResolver?) {
            self.handler = handler
            self.resolver = resolver
        }

        /// Asks the resolver where `partitions` should start and writes its answer into the list.
        func resolveStartOffsets(rk: OpaquePointer, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
            guard let resolver else { return }
            let tps = PartitionList.read(partitions).map { $0.0.topicPartition }
            guard !tps.isEmpty else { return }
            do {
                let committed = try KafkaConsumer.committedSync(rk: rk, tps, timeoutMs: 10_000)
                var infos: [AssignedPartition] = []
                for c in committed {
                    var low: Int64 = 0, high: Int64 = 0
                    let err = rd_kafka_query_watermark_offsets(rk, c.topic, c.partition, &low, &high, 10_000)
                    guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError(.query, context: "watermarks of \(c.topicPartition)", err: err)
                    }
                    infos.append(AssignedPartition(topicPartition: c.topicPartition, committed: c.offset, low: low, high: high))
                }
                for o in resolver(infos) {
                    guard let offset = o.offset, let element = rd_kafka_topic_partition_list_find(partitions, o.topic, o.partition) else { continue }
                    element.pointee.offset = offset
                }
            } catch {
                pendingErrors.append(KafkaConsumerError(error: KafkaError(.rebalance,
                    "could not check the committed offsets of the assigned partitions; they start from their committed offsets: \(error)")))
            }
        }

        func rebalance(rk: OpaquePointer, err: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
            let cooperative = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } == "COOPERATIVE"
            let tps = PartitionList.read(partitions).map { $0.0.topicPartition }
            switch err {
            case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
                sawAssignment.store(true, ordering: .relaxed)
                resolveStartOffsets(rk: rk, partitions: partitions)
                if cooperative {
                    if let e = rd_kafka_incremental_assign(rk, partitions) {
                        pendingErrors.append(KafkaConsumerError(error: KafkaError(.rebalance, context: "incremental assign", consuming: e)))
                    }
                } else {
                    let e = rd_kafka_assign(rk, partitions)
                    if e != RD_KAFKA_RESP_ERR_NO_ERROR {
                        pendingErrors.append(KafkaConsumerError(error: KafkaError(.rebalance, context: "assign", err: e)))
                    }
                }
                _ = handler(.assigned(tps))
            case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
                if rd_kafka_assignment_lost(rk) != 0 {
                    _ = handler(.lost(tps))
                } else {
                    let offsets = handler(.revoked(tps))
                    if !offsets.isEmpty, let error = KafkaConsumer.commitSync(rk: rk, offsets) {
                        pendingErrors.append(KafkaConsumerError(error: error))
                    }
                }
                if cooperative {
                    if let e = rd_kafka_incremental_unassign(rk, partitions) {
                        pendingErrors.append(KafkaConsumerError(error: KafkaError(.rebalance, context: "incremental unassign", consuming: e)))
                    }
                } else {
                    _ = rd_kafka_assign(rk, nil)
                }
            default:
                _ = handler(.lost(tps))
                _ = rd_kafka_assign(rk, nil)
                pendingErrors.append(KafkaConsumerError(error: KafkaError(.rebalance, context: "rebalance failed", err: err)))
            }
        }
    }

    private let handle: KafkaHandle
    private let queue: OpaquePointer  // rd_kafka_queue_t* of the consumer group
    private let callbacks: Callbacks
    private let thread: DedicatedThread
    private let closed = Atomic<Bool>(false)
    private let subscribed = Atomic<Bool>(false)
    /// Topic names by `rd_kafka_topic_t*`, so a poll does not build a String per message. Consumer thread only.
    private var topicNames: [OpaquePointer: String] = [:]
    /// The consumer group id.
    public let groupID: String

    /// Creates a consumer in group `groupID`. It reads nothing until `subscribe`.
    public init(
        configuration: KafkaConfiguration,
        groupID: String,
        startOffsets: StartOffsetResolver? = nil,
        onRebalance: @escaping RebalanceHandler = { _ in [] }
    ) throws(KafkaError) {
        guard !groupID.isEmpty else { throw KafkaError(.configuration, "the consumer group id must not be empty") }
        var defaults = Self.defaultProperties
        defaults["group.id"] = groupID
        let conf = try configuration.makeConf(defaults: defaults, enforced: Self.enforcedProperties)
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
            guard let rk, let partitions, let opaque else { return }
            Unmanaged<Callbacks>.fromOpaque(opaque).takeUnretainedValue().rebalance(rk: rk, err: err, partitions: partitions)
        }
        let callbacks = Callbacks(handler: onRebalance, resolver: startOffsets)
        let handle = try KafkaHandle(type: RD_KAFKA_CONSUMER, conf: conf, callbackContext: callbacks)
        // Route the main queue (rebalances, errors) to the consumer queue that `poll` serves.
        rd_kafka_poll_set_consumer(handle.pointer)
        self.handle = handle
        self.callbacks = callbacks
        self.queue = rd_kafka_queue_get_consumer(handle.pointer)
        self.groupID = groupID
        self.thread = DedicatedThread(name: "kafka-consumer")
    }

    deinit {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) {
            if mustNotClose {
                handle.leakOnDeinit.store(true, ordering: .relaxed)
            } else {
                // Leave the group even when the owner forgot `close()`.
                _ = rd_kafka_consumer_close(handle.pointer)
            }
        }
        thread.shutdown()
        if !handle.leakOnDeinit.load(ordering: .relaxed) { rd_kafka_queue_destroy(queue) }
    }

    /// librdkafka 2.0.2 (Debian bookworm) aborts in `rd_kafka_sticky_assignor_state_destroy` when a
    /// cooperative-sticky consumer that never received an assignment is closed or destroyed
    /// (confluentinc/librdkafka#4312, fixed in later releases). Such a consumer owns nothing and has
    /// committed nothing, so it is left open instead: the group drops it after its session timeout.
    private var mustNotClose: Bool {
        !callbacks.sawAssignment.load(ordering: .relaxed)
            && rd_kafka_rebalance_protocol(handle.pointer).map { String(cString: $0) } != "EAGER"
            && subscribed.load(ordering: .relaxed)
    }

    /// Runs `body` with the `rd_kafka_t*` on the consumer thread.
    private func onThread<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        guard !closed.load(ordering: .relaxed) else { throw KafkaError(.closed, "the consumer is closed") }
        let handle = self.handle
        return try await thread.run { try body(handle.pointer) }
    }

    /// Subscribes to `topics`; partitions arrive through the group's assignment.
    public func subscribe(topics: [String]) async throws {
        try await onThread { rk in
            let list = PartitionList.make(topics.map { TopicPartitionOffset(topic: $0, partition: RD_KAFKA_PARTITION_UA, offset: nil) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_subscribe(rk, list)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(.subscribe, context: "subscribe to \(topics.joined(separator: ","))", err: err)
            }
        }
        subscribed.store(true, ordering: .relaxed)
    }

    /// Waits up to `timeout` for up to `maxMessages` messages (it returns early only when the batch
    /// is full). Rebalance callbacks run inside this call.
    public func poll(maxMessages: Int, timeout: Duration) async throws -> KafkaBatch {
        let ms = timeout.milliseconds
        let count = max(1, maxMessages)
        return try await onThread { [self] _ in self.pollSync(maxMessages: count, timeoutMs: ms) }
    }

    /// Takes what is queued at once; when nothing is, blocks up to `timeoutMs` for the first message,
    /// then takes what arrived with it — never waiting to fill a batch (a fixed wait is latency).
    private func pollSync(maxMessages: Int, timeoutMs: Int32) -> KafkaBatch {
        var batch = KafkaBatch()
        let raw = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: maxMessages)
        defer { raw.deallocate() }
        var n = rd_kafka_consume_batch_queue(queue, 0, raw, maxMessages)
        if n == 0 && timeoutMs > 0 {
            n = rd_kafka_consume_batch_queue(queue, timeoutMs, raw, 1)
            if n == 1 && maxMessages > 1 {
                let more = rd_kafka_consume_batch_queue(queue, 0, raw + 1, maxMessages - 1)
                if more > 0 { n += more }
            }
        }
        if !callbacks.pendingErrors.isEmpty {
            batch.errors = callbacks.pendingErrors
            callbacks.pendingErrors.removeAll()
        }
        if n < 0 {
            batch.errors.append(KafkaConsumerError(error: KafkaError(.poll, context: "consume", err: rd_kafka_last_error())))
            return batch
        }
        batch.messages.reserveCapacity(n)
        for i in 0..<n {
            guard let m = raw[i] else { continue }
            defer { rd_kafka_message_destroy(m) }
            let msg = m.pointee
            let topic = msg.rkt.map { topicName($0) }
            if msg.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                let text = msg.payload.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? ""
                var error = KafkaError(.poll, context: "consume", err: msg.err)
                if !text.isEmpty { error = KafkaError(error.kind, "\(error.message) (\(text))", rdkafkaCode: error.rdkafkaCode) }
                batch.errors.append(KafkaConsumerError(
                    topicPartition: topic.map { TopicPartition($0, msg.partition) }, offset: msg.offset >= 0 ? msg.offset : nil,
                    error: error))
                continue
            }
            let value = msg.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.len)) } ?? []
            let key = msg.key.map { Array(UnsafeRawBufferPointer(start: $0, count: msg.key_len)) }
            var tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let ts = rd_kafka_message_timestamp(m, &tstype)
            batch.messages.append(KafkaMessage(
                topic: topic ?? "", partition: msg.partition, offset: msg.offset,
                key: key, value: value, timestampMs: ts >= 0 ? ts : nil))
        }
        return batch
    }

    private func topicName(_ rkt: OpaquePointer) -> String {
        if let name = topicNames[rkt] { return name }
        let name = String(cString: rd_kafka_topic_name(rkt))
        topicNames[rkt] = name
        return name
    }

    /// Commits `offsets` (each the offset of the next message to read) synchronously and
    /// returns once the group coordinator has stored them.
    public func commit(_ offsets: [TopicPartitionOffset]) async throws {
        guard !offsets.isEmpty else { return }
        try await onThread { rk in
            if let error = KafkaConsumer.commitSync(rk: rk, offsets) { throw error }
        }
    }

    static func commitSync(rk: OpaquePointer, _ offsets: [TopicPartitionOffset]) -> KafkaError? {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_commit(rk, list, 0)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            return KafkaError(.commit, context: "commit \(offsets.map(\.description).joined(separator: ", "))", err: err)
        }
        for (tpo, e) in PartitionList.read(list) where e != RD_KAFKA_RESP_ERR_NO_ERROR {
            return KafkaError(.commit, context: "commit \(tpo)", err: e)
        }
        return nil
    }

    /// The offsets this group has committed for `partitions` (nil offset: nothing committed yet).
    public func committed(_ partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws -> [TopicPartitionOffset] {
        let ms = timeout.milliseconds
        return try await onThread { rk in try KafkaConsumer.committedSync(rk: rk, partitions, timeoutMs: ms) }
    }

    static func committedSync(rk: OpaquePointer, _ partitions: [TopicPartition], timeoutMs: Int32) throws(KafkaError) -> [TopicPartitionOffset] {
        let list = PartitionList.make(partitions.map { TopicPartitionOffset($0, offset: nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_committed(rk, list, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.query, context: "committed offsets", err: err) }
        var result: [TopicPartitionOffset] = []
        for (tpo, e) in PartitionList.read(list) {
            if e != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(.query, context: "committed offset of \(tpo.topicPartition)", err: e) }
            result.append(tpo)
        }
        return result
    }

    /// The partitions currently assigned to this consumer.
    /// The group's rebalance protocol as librdkafka reports it: "EAGER", "COOPERATIVE", or "NONE"
    /// before the consumer has joined a group.
    public func rebalanceProtocol() async throws -> String {
        try await onThread { rk in rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } ?? "NONE" }
    }

    public func assignment() async throws -> [TopicPartition] {
        return try await onThread { rk in
            var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            let err = rd_kafka_assignment(rk, &list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(.query, context: "assignment", err: err) }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            return PartitionList.read(list).map { $0.0.topicPartition }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        }
    }

    /// Stops fetching from `partitions` (for back-pressure) until `resume`.
    public func pause(_ partitions: [TopicPartition]) async throws {
        try await setPaused(partitions, paused: true)
    }

    /// Resumes fetching from `partitions` after `pause`.
    public func resume(_ partitions: [TopicPartition]) async throws {
        try await setPaused(partitions, paused: false)
    }

    private func setPaused(_ partitions: [TopicPartition], paused: Bool) async throws {
        guard !partitions.isEmpty else { return }
        try await onThread { rk in
            let list = PartitionList.make(partitions.map { TopicPartitionOffset($0, offset: nil) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = paused ? rd_kafka_pause_partitions(rk, list) : rd_kafka_resume_partitions(rk, list)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(.poll, context: paused ? "pause" : "resume", err: err)
            }
        }
    }

    /// The low and high watermark of a partition.
    /// The low and high watermarks this consumer last saw for a partition it fetches (from its fetch
    /// responses: no request, no wait, callable from any thread); nil before the first fetch.
    public func cachedWatermarks(topic: String, partition: Int32) -> (low: Int64, high: Int64)? {
        var low: Int64 = -1, high: Int64 = -1
        let err = rd_kafka_get_watermark_offsets(handle.pointer, topic, partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (max(0, low), high)
    }

    public func watermarks(topic: String, partition: Int32, timeout: Duration = .seconds(10)) async throws -> (low: Int64, high: Int64) {
        let handle = self.handle
        let ms = timeout.milliseconds
        return try await onThread { _ in try handle.watermarks(topic: topic, partition: partition, timeoutMs: ms) }
    }

    /// Leaves the group: runs the revoke handler (which commits what is durable), then closes.
    /// Further calls throw `closed`.
    public func close() async throws {
        guard !closed.load(ordering: .relaxed) else { return }
        if mustNotClose {
            closed.store(true, ordering: .relaxed)
            handle.leakOnDeinit.store(true, ordering: .relaxed)
            thread.shutdown()
            return
        }
        let err = try await onThread { rk in rd_kafka_consumer_close(rk) }
        closed.store(true, ordering: .relaxed)
        thread.shutdown()
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(.closed, context: "close", err: err) }
    }
}

import CRdKafka
import GuardianSupport
import Synchronization

/// Cluster queries and administration: topic metadata, watermarks, a group's committed
/// offsets, topic creation. Each call blocks on its own dedicated thread.
public final class KafkaAdmin: Sendable {
    private let configuration: KafkaConfiguration
    private let handle: KafkaHandle
    private let thread: DedicatedThread
    /// One non-member consumer handle per group asked about, kept for repeated lag queries.
    private let probes = Mutex<[String: KafkaHandle]>([:])
    /// The client that describes groups (see `describeGroup`).
    private let describer = Mutex<KafkaHandle?>(nil)

    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        self.configuration = configuration
        self.handle = try KafkaHandle(type: RD_KAFKA_PRODUCER, conf: configuration.makeConf(defaults: [:]))
        self.thread = DedicatedThread(name: "kafka-admin")
    }

    deinit { thread.shutdown() }

    /// Cluster metadata: brokers, and all topics or only `topic`.
    public func metadata(topic: String? = nil, timeout: Duration = .seconds(10)) async throws -> ClusterMetadata {
        let handle = self.handle
        return try await thread.run { try handle.metadata(topic: topic, timeoutMs: timeout.milliseconds) }
    }

    /// The low and high watermark of one partition.
    public func watermarks(topic: String, partition: Int32, timeout: Duration = .seconds(10)) async throws -> (low: Int64, high: Int64) {
        let handle = self.handle
        return try await thread.run { try handle.watermarks(topic: topic, partition: partition, timeoutMs: timeout.milliseconds) }
    }

    /// The high watermark (end offset) of every partition of `topic`.
    public func endOffsets(topic: String, timeout: Duration = .seconds(10)) async throws -> [TopicPartitionOffset] {
        try await partitionOffsets(topic: topic, group: nil, timeout: timeout).map {
            TopicPartitionOffset(topic: topic, partition: $0.partition, offset: $0.high)
        }
    }

    /// The offsets group `groupID` has committed for `partitions` (nil: none committed).
    /// Asks the group coordinator without joining the group.
    public func committedOffsets(groupID: String, partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws -> [TopicPartitionOffset] {
        let probe = try probe(groupID: groupID)
        return try await thread.run {
            try KafkaConsumer.committedSync(rk: probe.pointer, partitions, timeoutMs: timeout.milliseconds)
        }
    }

    /// Every partition of `topic`: its low and high watermarks and, when `group` is given, the offset
    /// that group committed — the one query behind lag, offset resets and replays.
    public func partitionOffsets(topic: String, group: String?, timeout: Duration = .seconds(10)) async throws -> [PartitionOffsets] {
        let handle = self.handle
        let bounds = try await thread.run { () throws(KafkaError) -> [(Int32, (low: Int64, high: Int64))] in
            let md = try handle.metadata(topic: topic, timeoutMs: timeout.milliseconds)
            guard let t = md.topic(topic), t.error == nil, !t.partitions.isEmpty else {
                throw KafkaError(.query, "topic '\(topic)' does not exist on \(md.brokers.count) broker(s)")
            }
            return try t.partitions.map { p throws(KafkaError) in
                (p.id, try handle.watermarks(topic: topic, partition: p.id, timeoutMs: timeout.milliseconds))
            }
        }
        var committed: [Int32: Int64] = [:]
        if let group {
            let offsets = try await committedOffsets(groupID: group, partitions: bounds.map { TopicPartition(topic, $0.0) }, timeout: timeout)
            for o in offsets { if let offset = o.offset { committed[o.partition] = offset } }
        }
        return bounds.map { PartitionOffsets(partition: $0.0, committed: committed[$0.0], low: $0.1.low, high: $0.1.high) }
            .sorted { $0.partition < $1.partition }
    }

    /// Messages of `topic` that group `groupID` has not consumed, summed over partitions
    /// (`PartitionOffsets.lag`).
    public func totalLag(groupID: String, topic: String, timeout: Duration = .seconds(10)) async throws -> Int64 {
        try await partitionOffsets(topic: topic, group: groupID, timeout: timeout).reduce(0) { $0 + $1.lag }
    }

    private func probe(groupID: String) throws(KafkaError) -> KafkaHandle {
        if let existing = probes.withLock({ $0[groupID] }) { return existing }
        var defaults = KafkaConsumer.defaultProperties
        defaults["group.id"] = groupID
        let handle = try KafkaHandle(type: RD_KAFKA_CONSUMER, conf: configuration.makeConf(defaults: defaults, enforced: KafkaConsumer.enforcedProperties))
        return probes.withLock { cache in
            if let raced = cache[groupID] { return raced }
            cache[groupID] = handle
            return handle
        }
    }

    /// Creates `name` with `partitions` partitions. With `ifNotExists`, an existing topic is not an error.
    public func createTopic(
        _ name: String, partitions: Int, replicationFactor: Int = -1,
        ifNotExists: Bool = true, timeout: Duration = .seconds(30)
    ) async throws {
        let handle = self.handle
        try await thread.run {
            var errstr = [CChar](repeating: 0, count: 512)
            guard let newTopic = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor), &errstr, errstr.count) else {
                throw KafkaError(.admin, "invalid topic '\(name)': \(errorString(errstr))")
            }
            defer { rd_kafka_NewTopic_destroy(newTopic) }
            let options = rd_kafka_AdminOptions_new(handle.pointer, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, &errstr, errstr.count)
            _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errstr, errstr.count)
            let queue = rd_kafka_queue_new(handle.pointer)
            defer { rd_kafka_queue_destroy(queue) }
            var topics: [OpaquePointer?] = [newTopic]
            rd_kafka_CreateTopics(handle.pointer, &topics, 1, options, queue)
            // The admin request has its own timeout; wait a little longer for its result event.
            guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds &+ 5000) else {
                throw KafkaError(.timeout, "creating topic '\(name)' got no answer within \(timeout)")
            }
            defer { rd_kafka_event_destroy(event) }
            let err = rd_kafka_event_error(event)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                var text = String(cString: rd_kafka_event_error_string(event))
                if text.contains("controller") {
                    text += " (the cluster names no controller; on the dev broker create topics with `guardian dev-broker --topic` or `guardian dev-broker-ctl topic NAME PARTITIONS`)"
                }
                throw KafkaError(.admin, "creating topic '\(name)': \(text)", rdkafkaCode: err.rawValue)
            }
            guard let result = rd_kafka_event_CreateTopics_result(event) else {
                throw KafkaError(.admin, "creating topic '\(name)': unexpected event type")
            }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(result, &count), count == 1, let r = results[0] else {
                throw KafkaError(.admin, "creating topic '\(name)': the broker returned no result")
            }
            let topicErr = rd_kafka_topic_result_error(r)
            if topicErr == RD_KAFKA_RESP_ERR_NO_ERROR || (ifNotExists && topicErr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) { return }
            let text = rd_kafka_topic_result_error_string(r).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(topicErr))
            throw KafkaError(.admin, "creating topic '\(name)': \(text)", rdkafkaCode: topicErr.rawValue)
        }
    }

    /// For each partition of `partitions`, the earliest offset whose message timestamp is at or after
    /// `timestampMs` (Kafka's offsets-for-times); nil where no message is that new.
    /// Throws `unsupported` when the broker cannot answer timestamp lookups (the dev broker cannot).
    public func offsetsForTimes(_ partitions: [TopicPartition], timestampMs: Int64, timeout: Duration = .seconds(10)) async throws -> [TopicPartition: Int64?] {
        let handle = self.handle
        return try await thread.run {
            let list = PartitionList.make(partitions.map { TopicPartitionOffset($0, offset: nil) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for i in 0..<Int(list.pointee.cnt) { list.pointee.elems[i].offset = timestampMs }
            let err = rd_kafka_offsets_for_times(handle.pointer, list, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(.unsupported, context: "offsets for time \(timestampMs) ms", err: err)
            }
            var out: [TopicPartition: Int64?] = [:]
            for i in 0..<Int(list.pointee.cnt) {
                let e = list.pointee.elems[i]
                let tp = TopicPartition(String(cString: e.topic), e.partition)
                guard e.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(.unsupported, context: "offset for time \(timestampMs) ms of \(tp)", err: e.err)
                }
                out[tp] = e.offset >= 0 ? e.offset : nil
            }
            return out
        }
    }

    /// The group coordinator's description of `groupID`: its state and members. Throws `unsupported`
    /// when the broker cannot describe groups (the dev broker cannot).
    public func describeGroup(_ groupID: String, timeout: Duration = .seconds(10)) async throws -> ConsumerGroupDescription {
        return try await thread.run { [self] in
            // librdkafka 2.0.2 keeps a reference to the client after a DescribeConsumerGroups that failed
            // (a broker without the API answers _UNSUPPORTED_FEATURE), and rd_kafka_destroy then waits forever.
            // The request runs on a client of its own, left alive (not destroyed) after such a failure.
            let handle: KafkaHandle
            if let existing = self.describer.withLock({ $0 }) { handle = existing } else {
                handle = try KafkaHandle(type: RD_KAFKA_PRODUCER, conf: self.configuration.makeConf(defaults: [:]))
                self.describer.withLock { $0 = handle }
            }
            var failed = true
            defer {
                if failed {
                    handle.leakOnDeinit.store(true, ordering: .relaxed)
                    self.describer.withLock { $0 = nil }
                }
            }
            var errstr = [CChar](repeating: 0, count: 512)
            let options = rd_kafka_AdminOptions_new(handle.pointer, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errstr, errstr.count)
            let queue = rd_kafka_queue_new(handle.pointer)
            defer { rd_kafka_queue_destroy(queue) }
            groupID.withCString { name in
                var names: [UnsafePointer<CChar>?] = [name]
                rd_kafka_DescribeConsumerGroups(handle.pointer, &names, 1, options, queue)
            }
            guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds &+ 2000) else {
                throw KafkaError(.unsupported, "describing group '\(groupID)' got no answer within \(timeout)")
            }
            defer { rd_kafka_event_destroy(event) }
            let err = rd_kafka_event_error(event)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(.unsupported, "describing group '\(groupID)': \(String(cString: rd_kafka_event_error_string(event)))",
                                 rdkafkaCode: err.rawValue)
            }
            guard let result = rd_kafka_event_DescribeConsumerGroups_result(event) else {
                throw KafkaError(.unsupported, "describing group '\(groupID)': unexpected event type")
            }
            var count = 0
            guard let groups = rd_kafka_DescribeConsumerGroups_result_groups(result, &count), count == 1, let g = groups[0] else {
                throw KafkaError(.unsupported, "describing group '\(groupID)': the broker returned no description")
            }
            if let e = rd_kafka_ConsumerGroupDescription_error(g) {
                throw KafkaError(.unsupported, "describing group '\(groupID)': \(String(cString: rd_kafka_error_string(e)))",
                                 rdkafkaCode: rd_kafka_error_code(e).rawValue)
            }
            var members: [ConsumerGroupDescription.Member] = []
            for i in 0..<rd_kafka_ConsumerGroupDescription_member_count(g) {
                guard let m = rd_kafka_ConsumerGroupDescription_member(g, i) else { continue }
                var assignment: [TopicPartition] = []
                if let a = rd_kafka_MemberDescription_assignment(m), let list = rd_kafka_MemberAssignment_partitions(a) {
                    assignment = PartitionList.read(list).map { $0.0.topicPartition }
                }
                members.append(.init(
                    consumerID: String(cString: rd_kafka_MemberDescription_consumer_id(m)),
                    clientID: String(cString: rd_kafka_MemberDescription_client_id(m)),
                    host: String(cString: rd_kafka_MemberDescription_host(m)),
                    assignment: assignment))
            }
            let state = String(cString: rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g)))
            failed = false
            return ConsumerGroupDescription(groupID: groupID, state: state, members: members)
        }
    }
}

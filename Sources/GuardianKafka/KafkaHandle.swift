import CRdKafka
import Synchronization

/// Owns one `rd_kafka_t` and destroys it in deinit. The queries here block and
/// must be called from a dedicated thread, never from the cooperative pool.
final class KafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The object librdkafka callbacks receive as their opaque pointer. Held here so it
    /// outlives `rd_kafka_destroy` (stored properties are released after deinit's body).
    private let callbackContext: AnyObject?

    /// Creates a client of `type` from a configuration built by `KafkaConfiguration.makeConf`.
    /// Takes ownership of `conf` (librdkafka does on success; we free it on failure).
    /// `callbackContext` becomes the configuration's opaque pointer, kept alive by this handle.
    init(type: rd_kafka_type_t, conf: OpaquePointer, callbackContext: AnyObject? = nil) throws(KafkaError) {
        self.callbackContext = callbackContext
        if let callbackContext {
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbackContext).toOpaque())
        }
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.clientCreation, "could not create the Kafka client: \(errorString(errstr))")
        }
        pointer = rk
    }

    /// When set, deinit leaves the handle alive (see `KafkaConsumer.close`): a deliberate leak that
    /// avoids a librdkafka 2.0.2 crash, reclaimed when the process exits.
    let leakOnDeinit = Atomic<Bool>(false)

    deinit {
        if !leakOnDeinit.load(ordering: .relaxed) { rd_kafka_destroy(pointer) }
    }

    /// The low and high watermark of a partition, asked from the partition leader.
    func watermarks(topic: String, partition: Int32, timeoutMs: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(pointer, topic, partition, &low, &high, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.query, context: "watermark offsets of \(topic)[\(partition)]", err: err)
        }
        return (low, high)
    }

    /// Cluster metadata: brokers and topics (all topics, or only `topic`).
    func metadata(topic: String?, timeoutMs: Int32) throws(KafkaError) -> ClusterMetadata {
        var md: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(pointer, 1, nil, &md, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else {
            throw KafkaError(.query, context: "cluster metadata", err: err)
        }
        defer { rd_kafka_metadata_destroy(md) }
        var brokers: [BrokerMetadata] = []
        for i in 0..<Int(md.pointee.broker_cnt) {
            let b = md.pointee.brokers[i]
            brokers.append(BrokerMetadata(id: b.id, host: String(cString: b.host), port: Int(b.port)))
        }
        var topics: [TopicMetadata] = []
        for i in 0..<Int(md.pointee.topic_cnt) {
            let t = md.pointee.topics[i]
            let name = String(cString: t.topic)
            if let topic, topic != name { continue }
            var partitions: [PartitionMetadata] = []
            for j in 0..<Int(t.partition_cnt) {
                let p = t.partitions[j]
                partitions.append(PartitionMetadata(
                    id: p.id, leader: p.leader,
                    replicas: (0..<Int(p.replica_cnt)).map { p.replicas[$0] },
                    inSyncReplicas: (0..<Int(p.isr_cnt)).map { p.isrs[$0] }))
            }
            partitions.sort { $0.id < $1.id }
            let errorText = t.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: rd_kafka_err2str(t.err))
            topics.append(TopicMetadata(name: name, partitions: partitions, error: errorText))
        }
        return ClusterMetadata(brokers: brokers.sorted { $0.id < $1.id }, topics: topics.sorted { $0.name < $1.name })
    }
}

/// A broker as listed in the cluster metadata.
public struct BrokerMetadata: Sendable, Equatable {
    public var id: Int32
    public var host: String
    public var port: Int
}

/// A partition as listed in the cluster metadata.
public struct PartitionMetadata: Sendable, Equatable {
    public var id: Int32
    public var leader: Int32
    public var replicas: [Int32]
    public var inSyncReplicas: [Int32]
}

/// A topic as listed in the cluster metadata; `error` is set when the broker reported one.
public struct TopicMetadata: Sendable, Equatable {
    public var name: String
    public var partitions: [PartitionMetadata]
    public var error: String?
}

/// Brokers and topics of a cluster.
public struct ClusterMetadata: Sendable, Equatable {
    public var brokers: [BrokerMetadata]
    public var topics: [TopicMetadata]

    /// The named topic, if the cluster has it.
    public func topic(_ name: String) -> TopicMetadata? { topics.first { $0.name == name } }
}

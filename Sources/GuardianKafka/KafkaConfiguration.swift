import CRdKafka
import Foundation
import GuardianSupport

/// Client configuration: the bootstrap servers plus any librdkafka property
/// (see librdkafka's CONFIGURATION.md), passed through unchanged.
public struct KafkaConfiguration: Sendable {
    /// Comma-separated `host:port` list. Default `127.0.0.1:9092`.
    public var bootstrapServers: String
    /// Extra librdkafka properties; these win over the defaults a client type sets.
    public var properties: [String: String]

    public init(bootstrapServers: String = "127.0.0.1:9092", properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
    }

    /// Parses `key=value` strings (as given to `--kafka`) into properties.
    public static func parseProperties(_ pairs: [String]) throws(KafkaError) -> [String: String] {
        var result: [String: String] = [:]
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw KafkaError(.configuration, "librdkafka property '\(pair)' is not of the form key=value")
            }
            result[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        return result
    }

    /// Builds an `rd_kafka_conf_t` with `defaults`, then the bootstrap servers, then `properties`, then
    /// `enforced` (safety settings a client relies on: `properties` may not override them, and trying is
    /// an error rather than a silent change). The caller owns the result until it is handed to `rd_kafka_new`.
    func makeConf(defaults: [String: String], enforced: [String: String] = [:]) throws(KafkaError) -> OpaquePointer {
        for (k, v) in enforced {
            for name in [k] + (Self.aliases[k] ?? []) {
                guard let given = properties[name], !Self.sameSetting(k, given, v) else { continue }
                throw KafkaError(.configuration, "\(Self.describe(name, given)) is not allowed: this client relies on \(k)=\(v), a safety setting that cannot be overridden (the consumer commits only what is durable; the publisher keeps what Kafka has not acknowledged in memory or its spool)")
            }
        }
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(.configuration, "rd_kafka_conf_new returned NULL (out of memory)")
        }
        var all = defaults
        all["bootstrap.servers"] = bootstrapServers
        all["client.software.name"] = "guardian-fleet"
        for (k, v) in properties { all[k] = v }
        for (k, v) in enforced { all[k] = v }
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            var errstr = [CChar](repeating: 0, count: 512)
            let rc = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            if rc != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(.configuration, "librdkafka rejected \(Self.describe(key, value)): \(errorString(errstr))")
            }
        }
        return conf
    }

    /// Other names librdkafka accepts for a property (CONFIGURATION.md): an enforced setting is checked
    /// under each, so an alias cannot change it behind the check.
    static let aliases: [String: [String]] = [
        "message.timeout.ms": ["delivery.timeout.ms"],
        "acks": ["request.required.acks"],
        "enable.auto.commit": ["auto.commit.enable"],
    ]

    /// Whether two spellings of property `key` mean the same to librdkafka (`acks=-1` is `acks=all`).
    static func sameSetting(_ key: String, _ a: String, _ b: String) -> Bool {
        func normal(_ v: String) -> String {
            let v = v.trimmingCharacters(in: .whitespaces).lowercased()
            if key == "acks" || key == "request.required.acks" { return v == "-1" ? "all" : v }
            return v
        }
        return normal(a) == normal(b)
    }
}

/// A topic and partition.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public var description: String { "\(topic)[\(partition)]" }
}

/// An offset for a topic partition. For commits it is the offset of the *next* message to read.
public struct TopicPartitionOffset: Hashable, Sendable, CustomStringConvertible {
    public var topicPartition: TopicPartition
    /// The offset, or `nil` when the group has no committed offset for the partition.
    public var offset: Int64?
    public init(_ topicPartition: TopicPartition, offset: Int64?) {
        self.topicPartition = topicPartition
        self.offset = offset
    }
    public init(topic: String, partition: Int32, offset: Int64?) {
        self.init(TopicPartition(topic, partition), offset: offset)
    }
    public var topic: String { topicPartition.topic }
    public var partition: Int32 { topicPartition.partition }
    public var description: String { "\(topicPartition)@\(offset.map(String.init) ?? "none")" }
}

/// Helpers to move between Swift values and `rd_kafka_topic_partition_list_t`.
enum PartitionList {
    static func make(_ items: [TopicPartitionOffset]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(max(items.count, 1)))!
        for item in items {
            let element = rd_kafka_topic_partition_list_add(list, item.topic, item.partition)!
            element.pointee.offset = item.offset ?? Int64(RD_KAFKA_OFFSET_INVALID)
        }
        return list
    }

    static func read(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartitionOffset, rd_kafka_resp_err_t)] {
        var out: [(TopicPartitionOffset, rd_kafka_resp_err_t)] = []
        out.reserveCapacity(Int(list.pointee.cnt))
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems[i]
            let offset: Int64? = e.offset >= 0 ? e.offset : nil
            out.append((TopicPartitionOffset(topic: String(cString: e.topic), partition: e.partition, offset: offset), e.err))
        }
        return out
    }
}

/// Formats librdkafka's error buffer.
func errorString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

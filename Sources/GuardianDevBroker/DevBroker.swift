import CRdKafka
import GuardianKafka
import GuardianSupport
import Synchronization

/// A local Kafka-protocol cluster for development and tests: librdkafka's in-memory mock
/// cluster (`rdkafka_mock.h`), listening on loopback.
///
/// It speaks the real Kafka protocol (producers, consumer groups, offset commits), so any
/// client works against it, kcat included. It is not a production Kafka: data lives in memory,
/// each partition keeps only its newest few MB, and some APIs are missing (timestamp lookups,
/// DescribeGroups). What it adds is fault injection: brokers down/up, round-trip latency and
/// injected request errors.
public final class DevBroker: @unchecked Sendable {
    private let rk: OpaquePointer        // the rd_kafka_t the mock cluster uses for bookkeeping
    private let cluster: OpaquePointer   // rd_kafka_mock_cluster_t*
    private let state = Mutex(State())
    private let faults: BrokerFaults
    /// Number of brokers, with ids 1...brokerCount.
    public let brokerCount: Int
    /// The comma-separated `host:port` bootstrap list clients connect to.
    public let bootstrapServers: String

    private struct State {
        var rttMs: [Int32: Int] = [:]
        var topics: [String: Int] = [:]
    }

    /// Starts a cluster of `brokers` brokers on random loopback ports.
    public init(brokers: Int = 3) throws(KafkaError) {
        guard (1...16).contains(brokers) else {
            throw KafkaError(.configuration, "the dev broker runs 1 to 16 brokers, not \(brokers)")
        }
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(.configuration, "rd_kafka_conf_new failed") }
        var errstr = [CChar](repeating: 0, count: 512)
        // The bookkeeping client never connects anywhere; keep it quiet.
        _ = rd_kafka_conf_set(conf, "log_level", "3", &errstr, errstr.count)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.clientCreation, "could not create the dev broker's client handle")
        }
        guard let cluster = rd_kafka_mock_cluster_new(rk, Int32(brokers)) else {
            rd_kafka_destroy(rk)
            throw KafkaError(.clientCreation, "librdkafka could not start the mock cluster (no free loopback ports?)")
        }
        self.rk = rk
        self.cluster = cluster
        self.brokerCount = brokers
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        // The bootstrap list names the brokers in id order (1, 2, …).
        let ports = bootstrapServers.split(separator: ",").map { UInt16($0.split(separator: ":").last ?? "") ?? 0 }
        self.faults = BrokerFaults(cluster: cluster, brokerCount: brokers, ports: ports)
    }

    deinit {
        faults.stop()  // its thread uses the cluster
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(rk)
    }

    private func check(_ err: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(.controlCommand, context: what, err: err) }
    }

    private func brokerID(_ broker: Int32?) throws(KafkaError) -> Int32 {
        guard let broker else { return -1 }
        guard broker >= 1 && Int(broker) <= brokerCount else {
            throw KafkaError(.controlCommand, "no broker \(broker): ids run from 1 to \(brokerCount)")
        }
        return broker
    }

    /// Creates a topic (the mock cluster also auto-creates topics on first use, with librdkafka's defaults).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        guard partitions >= 1, replicationFactor >= 1, replicationFactor <= brokerCount else {
            throw KafkaError(.controlCommand,
                             "topic '\(name)': need at least 1 partition and a replication factor from 1 to \(brokerCount)")
        }
        try check(rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor)), "create topic '\(name)'")
        state.withLock { $0.topics[name] = partitions }
    }

    /// Takes one broker (or all, when `broker` is nil) down: every request a client sends to it, except
    /// ApiVersions, closes that client's connection (see `BrokerFaults` for why the listeners stay open).
    public func setDown(_ broker: Int32?) throws(KafkaError) {
        faults.setDown(try brokerID(broker))
    }

    /// Brings one broker (or all) back up.
    public func setUp(_ broker: Int32?) throws(KafkaError) {
        faults.setUp(try brokerID(broker))
    }

    /// Adds `ms` milliseconds of round-trip latency to one broker (or all).
    public func setRTT(_ broker: Int32?, milliseconds ms: Int) throws(KafkaError) {
        let id = try brokerID(broker)
        guard ms >= 0 else { throw KafkaError(.controlCommand, "latency must be >= 0 ms, not \(ms)") }
        try check(rd_kafka_mock_broker_set_rtt(cluster, id, Int32(ms)), "broker latency")
        state.withLock { s in
            for b in (id == -1 ? Array(1...Int32(brokerCount)) : [id]) { s.rttMs[b] = ms }
        }
    }

    /// Makes the next `errors.count` requests of protocol API `apiKey` (e.g. 0 Produce, 8 OffsetCommit)
    /// fail with the given Kafka error codes, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        codes.withUnsafeBufferPointer { buf in
            rd_kafka_mock_push_request_errors_array(cluster, apiKey, buf.count, buf.baseAddress)
        }
    }

    /// Clears injected errors for `apiKey`.
    public func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(cluster, apiKey)
    }

    /// One line describing the cluster: bootstrap list, brokers down, latency, topics created here.
    public func status() -> String {
        let downSet = faults.down
        return state.withLock { s in
            let down = downSet.sorted().map(String.init).joined(separator: ",")
            let rtt = s.rttMs.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)ms" }.joined(separator: ",")
            let topics = s.topics.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
            return "bootstrap=\(bootstrapServers) brokers=\(brokerCount) down=\(down.isEmpty ? "none" : down) "
                + "rtt=\(rtt.isEmpty ? "none" : rtt) topics=\(topics.isEmpty ? "none" : topics)"
        }
    }
}

import CRdKafka
import Foundation
import Synchronization

/// Brokers "down" and "up" for the dev broker, without ever closing a listening socket.
///
/// A down broker keeps its listener, but (1) every connection accepted on it is shut down at once
/// and again every 10 ms while it is down, so idle clients notice as they would a real outage, and
/// (2) every request except ApiVersions is answered by closing the connection, so nothing gets
/// through between two sweeps.
///
/// librdkafka's own `rd_kafka_mock_broker_set_down` closes the broker's listener, and `set_up`
/// binds the same port again, asserting that the bind succeeds (`rdkafka_mock.c`, same upstream).
/// On a busy machine another socket can take the port in between, and the whole process aborts
/// (`Assertion 'mrkb->listen_s != -1' failed`). Here a down broker keeps listening, but every
/// request a client sends to it, except ApiVersions, is answered by closing the connection
/// (an injected `RD_KAFKA_RESP_ERR__TRANSPORT`): clients see the broker as down, and with every
/// broker down they report `_ALL_BROKERS_DOWN`, as with a real outage. ApiVersions (18) is spared
/// because a disconnect there makes the client turn ApiVersion requests off for that connection.
///
/// - "down all" queues `clusterErrorsPerKey` transport errors for every API key on the cluster;
///   "up all" clears them, exactly.
/// - "down ID" keeps `brokerErrorsAhead` errors queued on that broker's own lists (topped up
///   every 10 ms by the same thread that sweeps connections). The mock cannot clear one broker's list, so after "up ID" up to that
///   many more requests of each kind to it may still be dropped; clients reconnect and retry.
/// - "up ID" while all are down gives the broker an empty list of its own, which the mock consults
///   instead of the cluster's.
final class BrokerFaults: @unchecked Sendable {
    private let cluster: OpaquePointer
    private let brokerCount: Int
    /// The listening port of broker id i at index i - 1.
    private let ports: [UInt16]
    private let state = Mutex(State())
    private let stopped = Mutex(false)
    private let exited = DispatchSemaphore(value: 0)

    private struct State {
        /// Brokers clients see as down.
        var down: Set<Int32> = []
        /// "down all" queued transport errors on the cluster's lists.
        var clusterDown = false
        /// Brokers with error lists of their own, which take precedence over the cluster's.
        var ownLists: Set<Int32> = []
        var threadStarted = false
    }

    /// Every protocol API key librdkafka 2.0.2 knows, except ApiVersions (18).
    static let faultedApiKeys: [Int16] = (0..<68).filter { $0 != 18 }
    /// Far more requests of one kind than clients send in an outage (they back off up to
    /// `reconnect.backoff.max.ms`, 10 s by default).
    static let clusterErrorsPerKey = 10_000
    private static let clusterErrors = [rd_kafka_resp_err_t](repeating: RD_KAFKA_RESP_ERR__TRANSPORT, count: clusterErrorsPerKey)
    /// Errors kept queued per API key on a single down broker.
    static let brokerErrorsAhead = 4

    init(cluster: OpaquePointer, brokerCount: Int, ports: [UInt16]) {
        self.cluster = cluster
        self.brokerCount = brokerCount
        self.ports = ports
    }

    /// The brokers clients see as down.
    var down: Set<Int32> { state.withLock { $0.down } }

    /// `id` -1 means every broker.
    func setDown(_ id: Int32) {
        let startThread = state.withLock { s in
            if id == -1 {
                if !s.clusterDown {
                    for key in Self.faultedApiKeys {
                        Self.clusterErrors.withUnsafeBufferPointer { buf in
                            rd_kafka_mock_push_request_errors_array(cluster, key, buf.count, buf.baseAddress)
                        }
                    }
                    s.clusterDown = true
                }
                s.down = Set(1...Int32(brokerCount))
            } else {
                s.ownLists.insert(id)
                s.down.insert(id)
            }
            topUp(s)
            guard !s.threadStarted else { return false }
            s.threadStarted = true
            return true
        }
        severConnections()
        if startThread { startTopUpThread() }
    }

    /// `id` -1 means every broker.
    func setUp(_ id: Int32) {
        state.withLock { s in
            if id == -1 {
                if s.clusterDown {
                    for key in Self.faultedApiKeys { rd_kafka_mock_clear_request_errors(cluster, key) }
                    s.clusterDown = false
                }
                s.down.removeAll()
            } else {
                s.down.remove(id)
                if s.clusterDown && !s.ownLists.contains(id) {
                    for key in Self.faultedApiKeys { _ = guardian_mock_broker_own_error_list(cluster, id, key) }
                    s.ownLists.insert(id)
                }
            }
        }
    }

    /// Stops the top-up thread and waits for it; call before the cluster is destroyed.
    func stop() {
        let started = state.withLock { $0.threadStarted }
        stopped.withLock { $0 = true }
        if started { exited.wait() }
    }

    /// Keeps `brokerErrorsAhead` transport errors queued for each down broker with lists of its own.
    private func topUp(_ s: State) {
        for id in s.down where s.ownLists.contains(id) {
            for key in Self.faultedApiKeys {
                var queued = 0
                _ = rd_kafka_mock_broker_error_stack_cnt(cluster, id, key, &queued)  // 0 when the list is new
                for _ in queued..<max(queued, Self.brokerErrorsAhead) {
                    _ = guardian_mock_broker_push_transport_error(cluster, id, key)
                }
            }
        }
    }

    /// Shuts down every connection accepted on a down broker's port.
    private func severConnections() {
        let down = state.withLock { $0.down }
        AcceptedConnections.shutDown(localPorts: Set(down.compactMap { ports.indices.contains(Int($0) - 1) ? ports[Int($0) - 1] : nil }))
    }

    private func startTopUpThread() {
        let thread = Thread { [self] in
            while !stopped.withLock({ $0 }) {
                if state.withLock({ s in topUp(s); return !s.down.isEmpty }) { severConnections() }
                usleep(10_000)
            }
            exited.signal()
        }
        thread.name = "dev-broker-faults"
        thread.start()
    }
}

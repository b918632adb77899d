import Foundation
import GuardianDevBroker
import GuardianKafka
import GuardianTestSupport
import Logging
import Synchronization
import Testing
import CRdKafka

/// The dev broker's control commands, and its fault injection seen by a real client.
@Suite struct DevBrokerTests {
    @Test func parsesControlCommands() throws {
        #expect(try DevBrokerCommand.parse("down all") == .down(broker: nil))
        #expect(try DevBrokerCommand.parse("UP 2") == .up(broker: 2))
        #expect(try DevBrokerCommand.parse("rtt all 250") == .rtt(broker: nil, milliseconds: 250))
        #expect(try DevBrokerCommand.parse("topic t 4") == .createTopic(name: "t", partitions: 4, replicationFactor: 1))
        #expect(try DevBrokerCommand.parse("errors 8 7,7") == .pushErrors(apiKey: 8, codes: [7, 7]))
        for bad in ["", "down", "down x", "rtt all", "topic t", "errors x 1", "launch missiles"] {
            #expect(throws: KafkaError.self, "\(bad)") { _ = try DevBrokerCommand.parse(bad) }
        }
    }

    /// Brokers down: messages stay queued and flush times out; brokers up: all are delivered exactly once.
    /// Uses its own in-process cluster so it cannot disturb tests sharing the stack's broker.
    @Test func producerRidesOutAllBrokersDownThroughTheControlPort() async throws {
        let broker = try DevBroker(brokers: 3)
        try broker.createTopic("faults", partitions: 3, replicationFactor: 3)
        let control = try DevBrokerControlServer(broker: broker, logger: Logger(label: "test"))
        defer { control.stop() }
        let client = DevBrokerControlClient(port: control.port)

        let config = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, properties: ["message.timeout.ms": "120000"])
        let delivered = Mutex<[Int64]>([])
        let allDown = Atomic<Int>(0)
        let producer = try KafkaProducer(configuration: config, onDelivery: { r in
            if r.error == nil { delivered.withLock { $0.append(r.offset ?? -1) } }
        }, onError: { e in
            if e.rdkafkaCode == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue { allDown.add(1, ordering: .relaxed) }
        })
        try producer.produce(topic: "faults", key: "warmup", value: "0")
        try await producer.flush(timeout: .seconds(20))

        let status = try await client.send("down all")
        #expect(status.contains("down=1,2,3"))
        for i in 0..<10 { try producer.produce(topic: "faults", key: "k\(i)", value: "\(i)") }
        await #expect(throws: KafkaError.self) { try await producer.flush(timeout: .seconds(2)) }
        // Queued, not delivered. (librdkafka's queue length also counts error events waiting to be
        // served, such as the all-brokers-down report, so it is at least 10, not exactly.)
        #expect(delivered.withLock { $0.count } == 1, "only the warm-up message delivered while the brokers are down")
        #expect(producer.outstandingCount >= 10)
        // The listeners stay open, yet the client sees every broker down (the publisher's spool relies on it).
        let seen = ContinuousClock.now + .seconds(60)
        while allDown.load(ordering: .relaxed) == 0 && ContinuousClock.now < seen { try await Task.sleep(for: .milliseconds(50)) }
        #expect(allDown.load(ordering: .relaxed) > 0, "the producer reported all brokers down")

        _ = try await client.send("up all")
        try await producer.flush(timeout: .seconds(60))
        #expect(delivered.withLock { $0.count } == 11)

        let admin = try KafkaAdmin(configuration: config)
        let ends = try await admin.endOffsets(topic: "faults")
        #expect(ends.reduce(0) { $0 + ($1.offset ?? 0) } == 11, "no duplicates after the outage")

        let error = await #expect(throws: KafkaError.self) { _ = try await client.send("down 9") }
        #expect(error?.message.contains("1 to 3") == true)
    }

    /// Issue 15: "down" used to close a broker's listener and "up" to bind the same port again,
    /// asserting success; another socket taking the port in between aborted the whole test process.
    /// Many clusters going down and up at once, while other sockets come and go on loopback, must
    /// neither crash nor lose a message: each cluster's producer delivers everything once.
    @Test func manyClustersGoDownAndUpInParallelAndEveryMessageArrivesOnce() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for cluster in 0..<8 {
                group.addTask {
                    let broker = try DevBroker(brokers: 3)
                    try broker.createTopic("t", partitions: 2, replicationFactor: 3)
                    let config = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, properties: ["message.timeout.ms": "300000"])
                    let delivered = Atomic<Int>(0)
                    let producer = try KafkaProducer(configuration: config) { r in if r.error == nil { delivered.add(1, ordering: .relaxed) } }
                    for round in 0..<5 {
                        for i in 0..<20 { try producer.produce(topic: "t", key: "k\(i)", value: "\(cluster)-\(round)-\(i)") }
                        try broker.setDown(nil)
                        _ = try? closedLoopbackPort()  // sockets bound and released meanwhile, as the parallel suite does
                        try await Task.sleep(for: .milliseconds(200))
                        try broker.setDown(Int32(1 + round % 3))
                        try broker.setUp(nil)
                        try broker.setUp(Int32(1 + round % 3))
                    }
                    try await producer.flush(timeout: .seconds(120))
                    #expect(delivered.load(ordering: .relaxed) == 100, "cluster \(cluster)")
                    let ends = try await KafkaAdmin(configuration: config).endOffsets(topic: "t")
                    #expect(ends.reduce(0) { $0 + ($1.offset ?? 0) } == 100, "cluster \(cluster): no duplicates")
                }
            }
            try await group.waitForAll()
        }
    }
}

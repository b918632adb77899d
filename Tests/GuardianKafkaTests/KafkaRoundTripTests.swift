import Foundation
import GuardianDevBroker
import GuardianKafka
import GuardianTestSupport
import Synchronization
import Testing

/// Producer, consumer group, manual commits and queries against the stack's dev broker.
@Suite struct KafkaRoundTripTests {
    let configuration: KafkaConfiguration
    let control: DevBrokerControlClient

    init() throws {
        configuration = KafkaConfiguration(bootstrapServers: try StackEnvironment.shared.kafkaBootstrapServers)
        control = try DevBrokerControlClient(address: try StackEnvironment.shared.devBrokerControl)
    }

    @Test func producesAndConsumesOneThousandKeyedMessagesWithManualCommit() async throws {
        let topic = uniqueName("roundtrip")
        let group = uniqueName("group")
        let admin = try KafkaAdmin(configuration: configuration)
        // The dev broker has no controller for the Admin API's CreateTopics: create it through its control port.
        _ = try await control.send("topic \(topic) 6 3")
        let metadata = try await admin.metadata(topic: topic)
        #expect(metadata.topic(topic)?.partitions.count == 6)
        #expect(metadata.brokers.count == 3)

        // Produce 1,000 keyed messages, 40 distinct keys.
        let reports = Mutex<[DeliveryReport]>([])
        let producer = try KafkaProducer(configuration: configuration) { report in reports.withLock { $0.append(report) } }
        var ids = Set<UInt64>()
        for i in 0..<1000 {
            ids.insert(try producer.produce(topic: topic, key: "sym-\(i % 40)", value: "value-\(i)"))
        }
        try await producer.flush(timeout: .seconds(30))
        let delivered = reports.withLock { $0 }
        #expect(delivered.count == 1000)
        #expect(delivered.allSatisfy { $0.error == nil && $0.offset != nil })
        #expect(Set(delivered.map(\.messageID)) == ids)

        let ends = try await admin.endOffsets(topic: topic)
        #expect(ends.count == 6)
        #expect(ends.reduce(0) { $0 + ($1.offset ?? 0) } == 1000)

        // Consume them back through a consumer group, committing after every batch.
        let consumer = try KafkaConsumer(configuration: configuration, groupID: group)
        try await consumer.subscribe(topics: [topic])
        var seen: [String: Int] = [:]
        var partitionOfKey: [String: Set<Int32>] = [:]
        let deadline = ContinuousClock.now + .seconds(90)
        var total = 0
        while total < 1000 && ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxMessages: 500, timeout: .milliseconds(200))
            #expect(batch.errors.isEmpty, "consumer errors: \(batch.errors.map(\.error.description))")
            var next: [TopicPartition: Int64] = [:]
            for m in batch.messages {
                seen[m.valueString, default: 0] += 1
                partitionOfKey[m.keyString ?? "", default: []].insert(m.partition)
                next[m.topicPartition] = max(next[m.topicPartition] ?? 0, m.offset + 1)
            }
            total += batch.messages.count
            try await consumer.commit(next.map { TopicPartitionOffset($0.key, offset: $0.value) })
        }
        #expect(total == 1000)
        #expect(seen.count == 1000, "distinct values")
        #expect(seen.values.allSatisfy { $0 == 1 }, "every message exactly once")
        #expect(partitionOfKey.values.allSatisfy { $0.count == 1 }, "a key always lands on one partition")

        // Committed offsets equal the end offsets, as seen by the member and by an outside query.
        let partitions = ends.map(\.topicPartition)
        let committed = try await consumer.committed(partitions)
        #expect(Set(committed) == Set(ends))
        let outside = try await admin.committedOffsets(groupID: group, partitions: partitions)
        #expect(Set(outside) == Set(ends))
        try await consumer.close()
    }

    @Test func metadataOfAnUnknownTopicSaysSo() async throws {
        let admin = try KafkaAdmin(configuration: configuration)
        await #expect(throws: KafkaError.self) {
            _ = try await admin.endOffsets(topic: uniqueName("missing"))
        }
    }

    @Test func createTopicOnTheDevBrokerFailsWithAClearMessage() async throws {
        let admin = try KafkaAdmin(configuration: configuration)
        let error = await #expect(throws: KafkaError.self) {
            try await admin.createTopic(uniqueName("admin"), partitions: 2, timeout: .seconds(2))
        }
        #expect(error?.message.contains("controller") == true, "\(String(describing: error))")
    }

    /// Closing a member that is still waiting for its first assignment in a cooperative rebalance.
    /// librdkafka 2.0.2 can abort the process on that path (librdkafka#4312, seen when `make run` was
    /// interrupted early); `KafkaConsumer.close` then leaves the handle open. The abort is timing-dependent
    /// and this test does not reproduce it reliably: it checks that the path completes cleanly. Both
    /// members use cooperative-sticky (the workers' default is eager `range`), and the test checks that
    /// the group really runs the cooperative protocol.
    @Test func closingDuringTheFirstCooperativeRebalanceDoesNotCrash() async throws {
        // The case needs the second member caught before its first assignment; on a loaded machine the
        // rebalance can finish before it is closed (once in a plain-PostgreSQL run): then again, in a new group.
        for attempt in 1...3 {
            if try await closeDuringFirstCooperativeRebalance(group: uniqueName("early-close-\(attempt)")) { return }
        }
        Issue.record("the second member got its assignment before it could be closed, in 3 groups: the case was never reached")
    }

    /// One try of the case above; false when the second member was assigned before it could be closed.
    private func closeDuringFirstCooperativeRebalance(group: String) async throws -> Bool {
        var configuration = self.configuration
        configuration.properties["partition.assignment.strategy"] = "cooperative-sticky"
        let first = try KafkaConsumer(configuration: configuration, groupID: group)
        try await first.subscribe(topics: ["guardian.events"])
        let deadline = ContinuousClock.now + .seconds(90)
        while try await first.assignment().isEmpty && ContinuousClock.now < deadline {
            _ = try await first.poll(maxMessages: 10, timeout: .milliseconds(100))
        }
        #expect(try await first.assignment().count == 12)
        #expect(try await first.rebalanceProtocol() == "COOPERATIVE", "the cooperative path is the one under test")
        // A second member joins; the cooperative rebalance takes seconds, and it is closed midway.
        let second = try KafkaConsumer(configuration: configuration, groupID: group)
        try await second.subscribe(topics: ["guardian.events"])
        let keepPolling = Task {
            while !Task.isCancelled { _ = try? await first.poll(maxMessages: 10, timeout: .milliseconds(100)) }
        }
        // A few polls to send its JoinGroup; the cooperative rebalance that would assign it partitions takes
        // about 10 s on the dev broker, so it is normally still waiting.
        for _ in 0..<3 { _ = try await second.poll(maxMessages: 10, timeout: .milliseconds(100)) }
        let caughtEarly = try await second.assignment().isEmpty
        try await second.close()
        keepPolling.cancel()
        _ = await keepPolling.value
        try await first.close()
        return caughtEarly
    }

    @Test func committedOffsetsOfANewGroupAreEmpty() async throws {
        let admin = try KafkaAdmin(configuration: configuration)
        let committed = try await admin.committedOffsets(groupID: uniqueName("nobody"), partitions: [TopicPartition("guardian.events", 0)])
        #expect(committed == [TopicPartitionOffset(topic: "guardian.events", partition: 0, offset: nil)])
    }
}

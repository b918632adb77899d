import Foundation
import GuardianKafka
import GuardianTestSupport
import Synchronization
import Testing

/// Bad configuration and unreachable brokers produce clear errors, within bounded time.
@Suite struct KafkaErrorTests {
    @Test func unknownPropertyIsRejectedWithLibrdkafkasReason() throws {
        let config = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["no.such.property": "1"])
        let error = #expect(throws: KafkaError.self) { _ = try KafkaProducer(configuration: config) }
        #expect(error?.kind == .configuration)
        #expect(error?.message.contains("no.such.property") == true)
    }

    @Test func propertyWithoutEqualsSignIsRejected() {
        let error = #expect(throws: KafkaError.self) { _ = try KafkaConfiguration.parseProperties(["linger.ms"]) }
        #expect(error?.message.contains("key=value") == true)
        #expect((try? KafkaConfiguration.parseProperties(["a=b=c"])) == ["a": "b=c"])
    }

    @Test func emptyGroupIsRejected() {
        #expect(throws: KafkaError.self) { _ = try KafkaConsumer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"), groupID: "") }
    }

    @Test func anUnreachableBrokerIsARetriableErrorAndAFlushTimesOut() async throws {
        let port = try closedLoopbackPort()
        let config = KafkaConfiguration(bootstrapServers: "127.0.0.1:\(port)")
        let admin = try KafkaAdmin(configuration: config)
        let error = await #expect(throws: KafkaError.self) { _ = try await admin.metadata(timeout: .seconds(2)) }
        #expect(error?.isRetriable == true, "\(String(describing: error))")

        let reports = Atomic<Int>(0)
        let producer = try KafkaProducer(configuration: config) { _ in reports.add(1, ordering: .relaxed) }
        try producer.produce(topic: "t", key: "k", value: "v")
        let flushError = await #expect(throws: KafkaError.self) { try await producer.flush(timeout: .seconds(1)) }
        #expect(flushError?.kind == .timeout)
        // Still queued: no delivery report, neither success nor failure. (The queue length also counts
        // error events waiting to be served, so it is at least 1.)
        #expect(reports.load(ordering: .relaxed) == 0)
        #expect(producer.outstandingCount >= 1)
    }
}

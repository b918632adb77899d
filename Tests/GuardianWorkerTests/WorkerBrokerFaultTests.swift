import CRdKafka
import Foundation
import GuardianDevBroker
import GuardianKafka
import GuardianPostgres
import GuardianTestSupport
import GuardianWorker
import Logging
import Testing

/// Kafka-side faults a worker must ride out, each on a dev-broker cluster of the test's own (its
/// injected errors and outages touch nobody else): offset commits refused after the rows are durable,
/// every broker down for 10 s, the dead-letter topic refusing its produce.
@Suite struct WorkerBrokerFaultTests {
    let logger = Logger(label: "broker-faults")

    /// Kafka refuses offset commits after the write is durable: the offsets stay pending and are
    /// committed once Kafka accepts them; a worker stopped while they are refused leaves them to the
    /// next one, which stores nothing twice and skips nothing.
    @Test func refusedCommitsAfterADurableWriteLoseAndDuplicateNothing() async throws {
        let broker = try DevBroker(brokers: 3)
        let f = try await WorkerFixture.make(partitions: 2, broker: broker)
        try await f.publish(count: 400, symbols: 4)
        let first = Worker(configuration: f.workerConfiguration(), logger: logger)
        let task = Task { try await first.run() }
        try await f.waitUntil("400 stored and committed") { try await f.stored(400) }

        // OffsetCommit (API 8) refused from now on with OFFSET_METADATA_TOO_LARGE, a permanent error.
        broker.pushRequestErrors(apiKey: 8, errors: Array(repeating: RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE.rawValue, count: 100_000))
        try await f.publish(count: 400, symbols: 4, seqOffset: 1000)
        try await f.waitUntil("800 rows durable") { try await f.rowCounts().rows == 800 }
        try await f.waitUntil("a refused commit") { first.statistics.commitFailures > 0 }
        let committed = try await f.committedOffsets().reduce(Int64(0)) { $0 + ($1.offset ?? 0) }
        #expect(committed == 400, "nothing past the first 400 was committed while Kafka refused")
        first.requestStop()
        try await task.value

        broker.clearRequestErrors(apiKey: 8)
        let second = Worker(configuration: f.workerConfiguration(id: "second"), logger: logger)
        try await f.run([second], until: "the next worker commits everything") { try await f.stored(800) }
        #expect(try await f.rowCounts() == (800, 800), "stored once each")
        try await f.cleanUp(symbols: 4)
    }

    /// Every broker down for 10 s (through the dev broker's control port, as an operator would) while
    /// events keep coming: the worker rides it out and stores every event exactly once.
    @Test func aWorkerRidesOutBrokersDownForTenSecondsAndLosesNothing() async throws {
        let broker = try DevBroker(brokers: 3)
        let control = try DevBrokerControlServer(broker: broker, logger: logger)
        defer { control.stop() }
        let client = DevBrokerControlClient(port: control.port)
        let f = try await WorkerFixture.make(partitions: 3, broker: broker)
        try await f.publish(count: 300, symbols: 6)
        let worker = Worker(configuration: f.workerConfiguration(), logger: logger)
        let task = Task { try await worker.run() }
        try await f.waitUntil("300 stored and committed") { try await f.stored(300) }

        _ = try await client.send("down all")
        // Published during the outage: the producer holds them until the brokers answer again.
        let during = Task { _ = try await f.publish(count: 300, symbols: 6, seqOffset: 1000) }
        try await Task.sleep(for: .seconds(10))  // the length of the outage, not a wait for a result
        #expect(try await f.rowCounts().rows == 300, "nothing new could arrive while every broker was down")
        _ = try await client.send("up all")
        try await during.value
        try await f.publish(count: 300, symbols: 6, seqOffset: 2000)
        try await f.waitUntil("every event stored and committed after the outage") { try await f.stored(900) }
        #expect(try await f.rowCounts() == (900, 900))
        #expect(worker.health.kafka.up, "Kafka seen up again")
        worker.requestStop()
        try await task.value
        try await f.cleanUp(symbols: 6)
    }

    /// The dead-letter topic refuses the produce (every Produce refused): nothing past the poison record is
    /// committed to Kafka, nor its batch's checkpoint moved in the database, until its dead letter is on
    /// the topic (issue 16, item 3: dead letters first); then everything is, once.
    @Test func aFailingDeadLetterProduceCommitsNothingPastThePoisonRecord() async throws {
        let broker = try DevBroker(brokers: 3)
        let f = try await WorkerFixture.make(partitions: 1, broker: broker)
        try await f.publish(count: 100, symbols: 2)
        let producer = try KafkaProducer(configuration: f.kafka)
        try producer.produce(topic: f.topic, key: f.symbol(0), value: "{not json")
        try await producer.flush(timeout: .seconds(60))
        try await f.publish(count: 100, symbols: 2, seqOffset: 1000)
        let poisonOffset: Int64 = 100

        // From now on only the worker's dead-letter producer produces: refuse it (TOPIC_AUTHORIZATION_FAILED).
        broker.pushRequestErrors(apiKey: 0, errors: Array(repeating: RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED.rawValue, count: 100_000))
        let worker = Worker(configuration: f.workerConfiguration(), logger: logger)
        let task = Task { try await worker.run() }
        let db = try await PostgresConnection.connect(f.database.configuration)
        try await f.waitUntil("the worker has read past the poison record") { worker.statistics.consumed >= 201 }
        try await Task.sleep(for: .seconds(2))  // a window in which the dead-letter produce keeps failing
        let committedWhileRefused = try await f.committedOffsets().first?.offset ?? 0
        #expect(committedWhileRefused <= poisonOffset, "nothing past the poison record committed (\(committedWhileRefused))")
        let checkpoint = Int64(try await db.query("SELECT coalesce(max(next_offset), 0) FROM guardian_checkpoints").scalar ?? "") ?? -1
        #expect(checkpoint <= poisonOffset, "the checkpoint did not move past the poison record (\(checkpoint))")

        broker.clearRequestErrors(apiKey: 0)
        try await f.waitUntil("everything committed once the dead letter is delivered") { try await f.stored(200) }
        #expect(try await f.rowCounts() == (200, 200))
        #expect(try await db.query("SELECT count(*) FROM guardian_dead_letters").scalar == "1")
        let dlq = try await KafkaAdmin(configuration: f.kafka).endOffsets(topic: "\(f.topic).dlq")
        #expect(dlq.reduce(0) { $0 + ($1.offset ?? 0) } == 1, "the dead letter is on the topic, once")
        worker.requestStop()
        try await task.value
        try await f.cleanUp(symbols: 2)
    }
}

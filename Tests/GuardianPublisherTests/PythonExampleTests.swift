import Foundation
import GuardianDevBroker
import GuardianEvents
import GuardianKafka
import GuardianTestSupport
import Testing

/// `examples/python/publish_events.py` (confluent-kafka) publishes events the worker accepts:
/// every one decodes as contract v1 with key = symbol, and seq keeps its order per symbol.
@Suite struct PythonExampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Debian's interpreter: `make deps` installs python3-confluent-kafka for it (another python3 on PATH,
    /// such as pyenv's, would not see it). Nothing is installed while the tests run.
    static let python = "/usr/bin/python3"

    func run(_ arguments: [String]) async throws -> (Int32, String) {
        let r = try await ChildProcess.run(Self.python, arguments, environment: ProcessInfo.processInfo.environment, timeout: .seconds(120))
        if r.timedOut { Issue.record("python3 \(arguments.joined(separator: " ")) ran past 120 s and was killed") }
        return (r.status, r.stdout + r.stderr)
    }

    @Test func pythonExamplePublishesValidEvents() async throws {
        let env = StackEnvironment.shared
        let bootstrap = try env.kafkaBootstrapServers
        let (found, why) = try await run(["-c", "import confluent_kafka"])
        try #require(found == 0, "confluent-kafka is missing for \(Self.python): run `make deps` (python3-confluent-kafka). \(why)")
        let topic = uniqueName("python")
        _ = try await DevBrokerControlClient(address: try env.devBrokerControl).send("topic \(topic) 4 3")
        let (status, output) = try await run([Self.root.appendingPathComponent("examples/python/publish_events.py").path,
                                        "--bootstrap", bootstrap, "--topic", topic, "--count", "500"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("published 500 events, 0 failed, 0 undelivered"), "\(output)")

        let consumer = try KafkaConsumer(configuration: KafkaConfiguration(bootstrapServers: bootstrap), groupID: uniqueName("check"))
        try await consumer.subscribe(topics: [topic])
        let decoder = EventDecoder()
        var valid = 0, invalid: [String] = []
        var lastSeq: [String: Int64] = [:]
        var ordered = true
        let deadline = ContinuousClock.now + .seconds(60)
        while valid + invalid.count < 500 && ContinuousClock.now < deadline {
            for m in try await consumer.poll(maxMessages: 500, timeout: .milliseconds(100)).messages {
                switch decoder.decode(m.value, key: m.key) {
                case .success(let e):
                    valid += 1
                    if let l = lastSeq[e.symbol], l >= e.seq { ordered = false }
                    lastSeq[e.symbol] = e.seq
                case .failure(let r): invalid.append(r.description)
                }
            }
        }
        try await consumer.close()
        #expect(valid == 500 && invalid.isEmpty, "\(invalid.prefix(3))")
        #expect(ordered, "seq increases per symbol")
    }
}

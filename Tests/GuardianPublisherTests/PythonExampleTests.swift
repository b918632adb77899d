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

    func run(_ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    @Test func pythonExamplePublishesValidEvents() async throws {
        let env = StackEnvironment.shared
        let bootstrap = try env.kafkaBootstrapServers
        // confluent-kafka comes from PyPI; install it the first time.
        if try run(["python3", "-c", "import confluent_kafka"]).0 != 0 {
            let (status, text) = try run(["python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "confluent-kafka"])
            try #require(status == 0, "pip install confluent-kafka failed: \(text)")
        }
        let topic = uniqueName("python")
        _ = try await DevBrokerControlClient(address: try env.devBrokerControl).send("topic \(topic) 4 3")
        let (status, output) = try run(["timeout", "120", "python3", Self.root.appendingPathComponent("examples/python/publish_events.py").path,
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

import Foundation
import GuardianEvents
import GuardianKafka
import GuardianPublisher

// Publishes a few risk-guardian events the way a trading engine would: `publish` never blocks the
// calling thread; while Kafka is unreachable events go to the on-disk spool and are sent later.
//
//   swift run PublisherExample [bootstrap-servers] [topic]
let arguments = CommandLine.arguments.dropFirst()
let bootstrap = arguments.first ?? "127.0.0.1:9092"
let topic = arguments.dropFirst().first ?? "guardian.events"

let configuration = PublisherConfiguration(
    kafka: KafkaConfiguration(bootstrapServers: bootstrap),
    topic: topic,
    spoolDirectory: URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("publisher-example-spool"))
let publisher = try GuardianPublisher(configuration: configuration) { error in
    print("publisher: \(error)")  // events it could not deliver or spool, with the reason
}

let now = Int64(Date().timeIntervalSince1970 * 1e9)
for seq in 1...5 {
    publisher.publish(GuardianEvent(
        eventID: .random(), symbol: "AAPL", seq: Int64(seq), ts: now + Int64(seq) * 1_000, kind: .orderCheck,
        decision: .allow, side: .buy, qty: 100, price: 187.25, position: Double(seq * 100), latencyUs: 12))
}
do {
    try await publisher.flush(timeout: .seconds(10))
    print("published \(publisher.counters.published), delivered \(publisher.counters.delivered)")
} catch {
    print("not all delivered within 10 s (the rest is spooled and sent on the next start): \(error)")
}
await publisher.close()

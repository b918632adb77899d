import GuardianKafka
import GuardianStores
import Synchronization

/// Produces dead letters to the dead-letter topic (original key and value, headers with the error
/// and origin) and waits until Kafka acknowledged each one. Idempotent producer, `acks=all`.
public final class DeadLetterPublisher: Sendable {
    /// The dead-letter topic.
    public let topic: String
    private let producer: KafkaProducer
    /// Delivery outcome per message id: nil = delivered, else the error.
    private final class Outcomes: Sendable {
        let map = Mutex<[UInt64: KafkaError?]>([:])
    }
    private let outcomes = Outcomes()

    public init(configuration: KafkaConfiguration, topic: String) throws(KafkaError) {
        self.topic = topic
        let outcomes = self.outcomes
        producer = try KafkaProducer(configuration: configuration, enforced: ["enable.idempotence": "true", "acks": "all"]) { report in
            outcomes.map.withLock { $0[report.messageID] = .some(report.error) }
        }
    }

    /// Produces `letters` and returns once all are acknowledged; throws (after `timeout`) otherwise.
    public func publish(_ letters: [DeadLetter], timeout: Duration = .seconds(15)) async throws {
        guard !letters.isEmpty else { return }
        var ids: [UInt64] = []
        for d in letters {
            ids.append(try producer.produce(topic: topic, key: d.key, value: d.value, headers: d.headers))
        }
        defer { outcomes.map.withLock { o in for id in ids { o[id] = nil } } }
        try await producer.flush(timeout: timeout)
        let failures = outcomes.map.withLock { o in ids.compactMap { id -> KafkaError? in
            guard let outcome = o[id] else { return KafkaError(.timeout, "no delivery report for a dead letter") }
            return outcome
        } }
        if let first = failures.first {
            throw KafkaError(first.kind, "\(failures.count) of \(letters.count) dead letters not delivered to \(topic): \(first.message)",
                             rdkafkaCode: first.rdkafkaCode)
        }
    }
}

import Foundation
import GuardianEvents
import GuardianKafka
import GuardianSupport

/// How a `GuardianPublisher` publishes and where it spools.
public struct PublisherConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    /// Default `guardian.events`.
    public var topic: String
    /// Default `./guardian-spool` (relative to the working directory).
    public var spoolDirectory: URL
    /// Default 1 GiB.
    public var spoolMaxBytes: Int
    /// Default: sync to disk at most every 100 ms.
    public var spoolSync: SpoolSyncPolicy
    /// Messages librdkafka may hold in memory before new ones go to the spool. Default 100,000.
    public var memoryQueueMessages: Int
    /// Events `publish` may hand to the writer thread before it has taken them; past this (the writer
    /// stalled), an event is dropped, counted and reported — `publish` never waits. Default 200,000.
    public var memoryRingEvents: Int
    /// An encoded event larger than this is rejected by `publish` (never queued, never spooled).
    /// Default 1,000,000 (under Kafka's default `message.max.bytes`).
    public var maxEventBytes: Int
    /// How long the writer thread keeps looking for new events after the hand-off empties, before it
    /// sleeps (a later `publish` then wakes it). While it looks, `publish` never wakes a thread; it
    /// costs a wake-up of the writer every 100 µs for that long after the last event. 0: sleep at once.
    /// Default 2 ms. Measured at 5,000 events/s on 2 cores (`guardian bench publish`, three runs each,
    /// alternating): `publish` p99 37.9–43.2 µs direct, 36.4–38.5 µs spooling, 33.9–37.9 µs draining,
    /// against 50.0–76.5, 37.6–49.9 and 40.2–46.9 µs with 0; the cost, `guardian simulate` at 5,000/s
    /// for 10 s: 3.5 CPU-seconds against 2.7 (about 8 % of one core more).
    public var writerLinger: Duration = .milliseconds(2)

    public init(kafka: KafkaConfiguration = KafkaConfiguration(), topic: String = "guardian.events",
                spoolDirectory: URL = URL(fileURLWithPath: "guardian-spool"), spoolMaxBytes: Int = 1 << 30,
                spoolSync: SpoolSyncPolicy = .interval(.milliseconds(100)), memoryQueueMessages: Int = 100_000,
                maxEventBytes: Int = GuardianEvent.defaultMaxEventBytes, memoryRingEvents: Int = 200_000) {
        self.kafka = kafka
        self.topic = topic
        self.spoolDirectory = spoolDirectory
        self.spoolMaxBytes = spoolMaxBytes
        self.spoolSync = spoolSync
        self.memoryQueueMessages = memoryQueueMessages
        self.maxEventBytes = maxEventBytes
        self.memoryRingEvents = memoryRingEvents
    }

    /// librdkafka defaults of the publisher's producer; `kafka.properties` may change these.
    var producerProperties: [String: String] {
        [
            "compression.type": "lz4",
            "queue.buffering.max.messages": String(memoryQueueMessages),
        ]
    }

    /// The settings the publisher's promise rests on; `kafka.properties` may repeat them but not change
    /// them (the publisher refuses to start). Idempotent with acks=all: a retry never duplicates or
    /// reorders, and an event counts as delivered only once every in-sync replica has it. No delivery
    /// timeout: a message leaves memory only delivered, refused for good (dead-lettered), or — at close —
    /// to the spool; with a timeout librdkafka would give events up during an outage.
    static let enforcedProducerProperties: [String: String] = [
        "enable.idempotence": "true",
        "acks": "all",
        "message.timeout.ms": "0",
    ]
}

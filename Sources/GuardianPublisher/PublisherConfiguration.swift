import Foundation
import GuardianEvents
import GuardianKafka
import GuardianSupport

/// How a `GuardianPublisher` publishes and where it spools.
public struct PublisherConfiguration: Sendable {
    public var kafka: KafkaConfiguration
    /// Default `$GUARDIAN_TOPIC`, else `guardian.events`.
    public var topic: String
    /// Default `$GUARDIAN_SPOOL_DIR`, else `./guardian-spool`.
    public var spoolDirectory: URL
    /// Default 1 GiB (`GUARDIAN_SPOOL_MAX_MB`).
    public var spoolMaxBytes: Int
    /// Default: sync to disk at most every 100 ms.
    public var spoolSync: SpoolSyncPolicy
    /// Messages librdkafka may hold in memory before new ones go to the spool. Default 100,000.
    public var memoryQueueMessages: Int
    /// Events `publish` may hand to the writer thread before it has taken them; past this (the writer
    /// stalled), an event is dropped, counted and reported — `publish` never waits. Default 200,000.
    public var memoryRingEvents: Int
    /// An encoded event larger than this is rejected by `publish` (never queued, never spooled).
    /// Default `$GUARDIAN_MAX_EVENT_BYTES`, else 1,000,000 (under Kafka's default `message.max.bytes`).
    public var maxEventBytes: Int

    public init(kafka: KafkaConfiguration = KafkaConfiguration(), topic: String? = nil, spoolDirectory: URL? = nil,
                spoolMaxBytes: Int? = nil, spoolSync: SpoolSyncPolicy = .interval(.milliseconds(100)),
                memoryQueueMessages: Int = 100_000, maxEventBytes: Int? = nil, memoryRingEvents: Int = 200_000) {
        self.kafka = kafka
        self.topic = topic ?? Env.string("GUARDIAN_TOPIC") ?? "guardian.events"
        self.spoolDirectory = spoolDirectory ?? URL(fileURLWithPath: Env.string("GUARDIAN_SPOOL_DIR") ?? "guardian-spool")
        self.spoolMaxBytes = spoolMaxBytes ?? (Env.int("GUARDIAN_SPOOL_MAX_MB") ?? 1024) << 20
        self.spoolSync = spoolSync
        self.memoryQueueMessages = memoryQueueMessages
        self.maxEventBytes = maxEventBytes ?? Env.int("GUARDIAN_MAX_EVENT_BYTES") ?? GuardianEvent.defaultMaxEventBytes
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

import GuardianEvents
import GuardianKafka
import GuardianPostgres
import GuardianStores
import GuardianSupport

extension DeadLetter {
    /// The dead letter of a message that is not a valid event.
    package init(rejected r: RejectedMessage, worker: String, timeNanos: Int64 = WallClock.nowNanoseconds()) {
        self.init(topic: r.topicPartition.topic, partition: r.topicPartition.partition, offset: r.offset, key: r.key, value: r.value,
                  reason: r.rejection.reason.rawValue, errorCode: r.rejection.code, errorMessage: r.rejection.message,
                  worker: worker, timeNanos: timeNanos)
    }

    /// The dead letter of a valid event whose row the database refused because of its data.
    public init(refused m: KafkaMessage, refusal error: PostgresError, worker: String) {
        let rejection = EventRejection(.databaseRefused, "PostgreSQL refused the row: \(error.message)")
        self.init(topic: m.topic, partition: m.partition, offset: m.offset, key: m.key, value: m.value,
                  reason: rejection.reason.rawValue, errorCode: error.code, errorMessage: rejection.message,
                  worker: worker, timeNanos: WallClock.nowNanoseconds())
    }
}

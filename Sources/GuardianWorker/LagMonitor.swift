import GuardianKafka
import ServiceLifecycle

/// Lag per owned partition (`guardian_consumer_lag`) from the watermarks the consumer's fetches bring
/// back (cached by librdkafka): no request, nothing on the consumer thread. Only while Kafka is marked
/// down does it ask a broker (on the consumer thread: then nothing is flowing anyway), to see it come
/// back while idle.
struct LagMonitor: Service {
    let state: WorkerState
    let consumer: KafkaConsumer
    let interval: Duration

    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let committed = state.machine.withLock { $0.tracker.committedOffsets }
            if !state.health.kafka.up, let c = committed.first,
               (try? await consumer.watermarks(topic: c.topic, partition: c.partition, timeout: .seconds(2))) != nil {
                state.setComponent(\.kafka, "kafka", up: true, error: nil)
            }
            for c in committed {
                guard let w = consumer.cachedWatermarks(topic: c.topic, partition: c.partition) else { continue }
                state.metrics.lag(c.topicPartition).record(PartitionOffsets.lag(committed: c.offset, low: w.low, high: w.high))
            }
        }
    }
}

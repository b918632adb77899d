import GuardianEvents
import GuardianKafka
import Metrics

/// The worker's counters, gauges and timers (swift-metrics; exported as Prometheus text by the
/// metrics server). Names follow Prometheus conventions.
struct WorkerMetrics: Sendable {
    let consumed = Counter(label: "guardian_events_consumed_total")
    let persisted = Counter(label: "guardian_events_persisted_total")
    let duplicates = Counter(label: "guardian_events_duplicate_total")
    let batches = Counter(label: "guardian_batches_total")
    let batchSize = Recorder(label: "guardian_batch_size_events", aggregate: true)
    let dbWrite = Timer(label: "guardian_db_write_seconds")
    let redisWrite = Timer(label: "guardian_redis_write_seconds")
    let endToEnd = Timer(label: "guardian_end_to_end_latency_seconds")
    let commit = Timer(label: "guardian_offset_commit_seconds")
    let poll = Timer(label: "guardian_poll_seconds")
    let commitFailures = Counter(label: "guardian_commit_failures_total")
    let dbFailures = Counter(label: "guardian_db_write_failures_total")
    let redisFailures = Counter(label: "guardian_redis_write_failures_total")
    let cacheStale = Gauge(label: "guardian_cache_stale")
    let ownedPartitions = Gauge(label: "guardian_owned_partitions")

    let bufferedBytes = Gauge(label: "guardian_buffered_bytes")
    let pausedPartitions = Gauge(label: "guardian_paused_partitions")

    /// Makes every counter with a `reason` label exist at 0 for each reason: a counter that appears only
    /// at its first increment hides that increment from `rate()`/`increase()`, and `/metrics` shows what can be counted.
    func registerReasons() {
        for r in EventRejection.Reason.allCases {
            _ = rejected(r.rawValue)
            _ = deadLetters(r.rawValue)
        }
        for r in StartOffsetRule.Reason.allCases { _ = checkpointRestores(r.rawValue) }
    }

    func deadLetters(_ reason: String) -> Counter {
        Counter(label: "guardian_dead_letters_total", dimensions: [("reason", reason)])
    }

    func componentUp(_ component: String) -> Gauge {
        Gauge(label: "guardian_component_up", dimensions: [("component", component)])
    }

    func checkpointRestores(_ reason: String) -> Counter {
        Counter(label: "guardian_checkpoint_restores_total", dimensions: [("reason", reason)])
    }

    func rejected(_ reason: String) -> Counter {
        Counter(label: "guardian_events_rejected_total", dimensions: [("reason", reason)])
    }

    func committedOffset(_ tp: TopicPartition) -> Gauge {
        Gauge(label: "guardian_committed_offset", dimensions: [("topic", tp.topic), ("partition", String(tp.partition))])
    }

    func lag(_ tp: TopicPartition) -> Gauge {
        Gauge(label: "guardian_consumer_lag", dimensions: [("topic", tp.topic), ("partition", String(tp.partition))])
    }
}

/// What each `guardian_*` metric means, emitted as Prometheus `# HELP` lines. swift-metrics has no
/// place for help text, so `/metrics` adds it here, from this one table (`promtool check metrics`
/// reports a metric without it). A metric not listed here is served without help.
public enum MetricsHelp {
    public static let texts: [String: String] = [
        // The worker.
        "guardian_events_consumed_total": "Events read from Kafka by this worker (valid or not).",
        "guardian_events_persisted_total": "Events newly stored in guardian_events.",
        "guardian_events_duplicate_total": "Events already stored (a redelivery or replay), skipped by the unique key.",
        "guardian_events_rejected_total": "Messages that are not valid events, by reason (each is dead-lettered).",
        "guardian_dead_letters_total": "Messages dead-lettered (dead-letter topic and guardian_dead_letters), by reason.",
        "guardian_batches_total": "Batches made durable.",
        "guardian_batch_size_events": "Messages per durable batch.",
        "guardian_db_write_seconds": "Time to make one batch durable (dead letters, rows, checkpoints, commit), retries included.",
        "guardian_redis_write_seconds": "Time of one Redis round trip applying the newest state per symbol.",
        "guardian_offset_commit_seconds": "Time of one synchronous Kafka offset commit.",
        "guardian_poll_seconds": "Time of one consumer poll (blocking for the first message when none is queued).",
        "guardian_end_to_end_latency_seconds": "Now minus the event's ts when its batch became durable.",
        "guardian_committed_offset": "The offset this worker last committed, per topic and partition.",
        "guardian_consumer_lag": "Messages behind the end of the log, per owned partition (from cached watermarks).",
        "guardian_owned_partitions": "Partitions this worker owns.",
        "guardian_paused_partitions": "Owned partitions paused because the write buffer is full.",
        "guardian_buffered_bytes": "Kafka data consumed and awaiting its database write.",
        "guardian_cache_stale": "1 while Redis may lag what was consumed (updates missed, re-sync pending).",
        "guardian_component_up": "1 when the component (kafka, database, redis) answered the last request.",
        "guardian_checkpoint_restores_total": "Assigned partitions whose start offset was decided from guardian_checkpoints, by reason.",
        "guardian_db_write_failures_total": "Database write attempts that failed and were retried.",
        "guardian_commit_failures_total": "Offset commits Kafka refused (kept pending and retried).",
        "guardian_redis_write_failures_total": "Redis writes that failed (their events are re-synced when Redis is back).",
        // The lag exporter (guardian lag --serve).
        "guardian_consumer_lag_messages": "Messages between the group's committed offset and the end of the log, per partition.",
        "guardian_consumer_lag_seconds": "Age of the oldest uncommitted message, per partition.",
        "guardian_consumer_partition_status": "Burrow-style partition status: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP.",
        "guardian_consumer_group_status": "Burrow-style group status, the worst of its partitions: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP.",
        "guardian_lag_exporter_up": "1 when the last lag sample of the group succeeded.",
        "guardian_lag_exporter_sample_errors_total": "Lag samples that failed.",
        // The publisher (in the trading engine's process).
        "guardian_publisher_published_total": "Events handed to publish.",
        "guardian_publisher_delivered_total": "Events acknowledged by Kafka.",
        "guardian_publisher_failed_total": "Events Kafka refused for good (to the dead-letter file).",
        "guardian_publisher_spooled_total": "Events written to the on-disk spool.",
        "guardian_publisher_dropped_total": "Events lost: the spool was full or failed (each reported to onError).",
        "guardian_publisher_rejected_total": "Events that could never be stored (too large, U+0000), never queued.",
        "guardian_publisher_dead_lettered_total": "Events written to the publisher's dead-letter file.",
        "guardian_publisher_spool_bytes": "Bytes in the on-disk spool.",
        "guardian_publisher_spool_oldest_age_seconds": "Age of the oldest spooled event.",
        // The query API.
        "guardian_alert_webhook_posts_total": "Alert webhook posts, by result.",
    ]

    /// `exposition` (Prometheus text) with a `# HELP` line before each `# TYPE` line of a metric in `texts`.
    public static func annotate(_ exposition: [UInt8]) -> [UInt8] {
        let typePrefix = Array("# TYPE ".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + texts.count * 96)
        var lineStart = 0
        while lineStart < exposition.count {
            let end = exposition[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? exposition.count
            let line = exposition[lineStart..<end]
            if line.starts(with: typePrefix) {
                let rest = line.dropFirst(typePrefix.count)
                let name = String(decoding: rest.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                if let help = texts[name] { out += Array("# HELP \(name) \(help)\n".utf8) }
            }
            out += line
            if end < exposition.count { out.append(UInt8(ascii: "\n")) }
            lineStart = end + 1
        }
        return out
    }
}

import GuardianKafka

/// Time → offset: per partition, the first offset whose message timestamp is at or after a time.
/// Asks the broker (offsets-for-times) first; where it cannot answer (the dev broker cannot), binary
/// searches over message timestamps, all partitions probed together in each step. The search assumes
/// timestamps grow with offsets, as they do when producers stamp events in order; the replay margin
/// covers small disorder.
public struct TimestampSearch: Sendable {
    public let admin: KafkaAdmin
    public let reader: KafkaPartitionReader

    public init(admin: KafkaAdmin, reader: KafkaPartitionReader) {
        self.admin = admin
        self.reader = reader
    }

    /// One partition's bounds for the search.
    public struct Bounds: Sendable {
        public var topicPartition: TopicPartition
        public var low: Int64
        public var high: Int64
        public init(topicPartition: TopicPartition, low: Int64, high: Int64) {
            self.topicPartition = topicPartition
            self.low = low
            self.high = high
        }
    }

    /// How the answer was found.
    public enum Method: String, Sendable { case broker, binarySearch = "binary search" }

    /// For each partition, the first offset with a timestamp ≥ `timestampMs`; `high` (the end) where
    /// no message is that new.
    public func offsets(atOrAfter timestampMs: Int64, _ partitions: [Bounds]) async throws -> (offsets: [TopicPartition: Int64], method: Method) {
        if let answer = try? await admin.offsetsForTimes(partitions.map(\.topicPartition), timestampMs: timestampMs) {
            var out: [TopicPartition: Int64] = [:]
            for b in partitions { out[b.topicPartition] = (answer[b.topicPartition] ?? nil).map { min(max($0, b.low), b.high) } ?? b.high }
            if try await consistent(out, timestampMs, partitions) { return (out, .broker) }
        }
        return (try await binarySearch(timestampMs, partitions), .binarySearch)
    }

    /// Checks a broker's answer against the messages themselves: the message at an answered offset is at
    /// or after the time, and where the answer is "none" (the end) the last message is older. A broker
    /// that does not implement timestamp lookups (the dev broker answers "none" for every time) fails it.
    func consistent(_ answer: [TopicPartition: Int64], _ timestampMs: Int64, _ partitions: [Bounds]) async throws -> Bool {
        let probes = partitions.filter { $0.high > $0.low }.map { b in
            let o = answer[b.topicPartition] ?? b.high
            return TopicPartitionOffset(b.topicPartition, offset: o < b.high ? o : b.high - 1)
        }
        let found = try await reader.messages(at: probes)
        for p in probes {
            guard let b = partitions.first(where: { $0.topicPartition == p.topicPartition }), let ts = found[p.topicPartition]?.timestampMs else { continue }
            let saidEnd = (answer[p.topicPartition] ?? b.high) >= b.high
            if saidEnd ? ts >= timestampMs : ts < timestampMs { return false }
        }
        return true
    }

    func binarySearch(_ timestampMs: Int64, _ partitions: [Bounds]) async throws -> [TopicPartition: Int64] {
        // Invariant per partition: every message below `lo` is older than the time; the answer is ≤ `hi`.
        var ranges = Dictionary(uniqueKeysWithValues: partitions.map { ($0.topicPartition, (lo: $0.low, hi: $0.high)) })
        while true {
            let open = ranges.filter { $0.value.lo < $0.value.hi }
            if open.isEmpty { break }
            let probes = open.map { TopicPartitionOffset($0.key, offset: $0.value.lo + ($0.value.hi - $0.value.lo) / 2) }
            let found = try await reader.messages(at: probes)
            for probe in probes {
                let tp = probe.topicPartition, mid = probe.offset ?? 0
                guard var r = ranges[tp] else { continue }
                if let m = found[tp], let ts = m.timestampMs {
                    // The message found may sit past `mid` (offsets removed by compaction or retention): reading
                    // from `mid` then starts at it, so `mid` is as good an answer as its offset.
                    if ts < timestampMs { r.lo = min(r.hi, m.offset + 1) } else { r.hi = mid }
                } else {
                    r.hi = mid  // nothing readable there: the log ends earlier than it said
                }
                ranges[tp] = r
            }
        }
        return ranges.mapValues(\.lo)
    }
}

import Foundation
import GuardianEvents
import GuardianKafka
import GuardianSupport
import Synchronization

/// Pieces of `make bench` that need the project's own code: preloading events into Kafka, waiting
/// for a group to drain, and the decoder throughput against Foundation's JSONDecoder.
public enum Benchmarks {
    /// Publishes `count` events over `symbols` symbols to `topic` as fast as librdkafka takes them.
    /// With `partitions`, symbol i goes to partition i % partitions (still one partition per symbol), which
    /// spreads the load evenly: the dev broker keeps only the newest few MB of each partition, and the
    /// hash partitioner's uneven spread over 64 symbols would push some partitions past that.
    /// Returns the number delivered.
    public static func preload(kafka: KafkaConfiguration, topic: String, count: Int, symbols: Int, partitions: Int? = nil) async throws -> Int {
        let delivered = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        let producer = try KafkaProducer(configuration: kafka) { r in
            if r.error == nil { delivered.add(1, ordering: .relaxed) } else { failed.add(1, ordering: .relaxed) }
        }
        let encoder = EventEncoder()
        let names = (0..<symbols).map { String(format: "SYM%02d", $0) }
        let base = Int64(Date().timeIntervalSince1970 * 1e9)
        var i = 0
        while i < count {
            let symbol = names[i % symbols]
            let e = GuardianEvent(
                eventID: .random(), symbol: symbol, seq: Int64(i / symbols), ts: base + Int64(i) * 1_000, kind: .orderCheck,
                decision: i % 25 == 0 ? .deny : .allow, reason: i % 25 == 0 ? "position limit" : nil, side: i % 2 == 0 ? .buy : .sell,
                qty: Double(100 * (1 + i % 9)), price: 100 + Double(i % 1000) / 100, position: Double(i % 5000) * 10,
                exposure: Double(i % 5000) * 1000.5, realizedPnl: Double(i % 300) - 150.25, unrealizedPnl: Double(i % 77) * 1.5,
                latencyUs: Int64(5 + i % 40))
            do throws(KafkaError) {
                try producer.produce(topic: topic, key: Array(symbol.utf8), value: encoder.encode(e),
                                     partition: partitions.map { Int32((i % symbols) % $0) })
                i += 1
            } catch {
                guard error.kind == .queueFull else { throw error }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        try await producer.flush(timeout: .seconds(120))
        if failed.load(ordering: .relaxed) > 0 {
            throw KafkaError(.produce, "\(failed.load(ordering: .relaxed)) events were not delivered")
        }
        return delivered.load(ordering: .relaxed)
    }

    /// Waits until `group` has committed the end offset of every partition of `topic` (a preloaded topic:
    /// its end offsets are read once). Returns seconds (since this call) at which the first commit was
    /// seen and at which the group was done. One committed-offsets request per 100 ms: the measurement
    /// must not take CPU from what it measures (reading every partition's watermarks each time cost
    /// about 1.5 CPU-seconds per drain on 2 cores).
    public static func waitDrained(kafka: KafkaConfiguration, topic: String, group: String, timeout: Duration)
        async throws -> (firstCommit: Double, done: Double)
    {
        let admin = try KafkaAdmin(configuration: kafka)
        let ends = try await admin.endOffsets(topic: topic)
        let end = Dictionary(uniqueKeysWithValues: ends.map { ($0.topicPartition, $0.offset ?? 0) })
        let clock = ContinuousClock()
        let start = clock.now
        var first: Double?
        while clock.now - start < timeout {
            let committed = try await admin.committedOffsets(groupID: group, partitions: ends.map(\.topicPartition))
            let elapsed = (clock.now - start).secondsDouble
            if first == nil, committed.contains(where: { ($0.offset ?? 0) > 0 }) { first = elapsed }
            let done = committed.allSatisfy { c in (c.offset ?? 0) >= (end[c.topicPartition] ?? 0) }
            if done && committed.count == ends.count { return (first ?? elapsed, elapsed) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw KafkaError(.timeout, "group \(group) did not drain \(topic) within \(timeout)")
    }

    /// The sum over partitions of the low watermark: how many messages the broker no longer holds.
    public static func lowWatermarks(kafka: KafkaConfiguration, topic: String) async throws -> Int64 {
        try await KafkaAdmin(configuration: kafka).partitionOffsets(topic: topic, group: nil).reduce(0) { $0 + $1.low }
    }

    /// Events per second decoding `samples` with our decoder and with Foundation's JSONDecoder, one thread.
    public static func decodeThroughput(samples: Int = 200_000) -> (guardian: Double, foundation: Double, bytesPerEvent: Int) {
        let encoder = EventEncoder()
        let base = Int64(Date().timeIntervalSince1970 * 1e9)
        let corpus: [[UInt8]] = (0..<1000).map { i in
            encoder.encode(GuardianEvent(
                eventID: .random(), symbol: "SYM\(i % 64)", seq: Int64(i), ts: base + Int64(i), kind: .orderCheck,
                decision: .allow, side: .buy, qty: 100, price: 187.25, position: 5000, exposure: 936250.5,
                realizedPnl: -12.5, unrealizedPnl: 3.75, latencyUs: 17, attrs: #"{"desk":"eq1"}"#))
        }
        let decoder = EventDecoder()
        var ok = 0
        var start = ContinuousClock.now
        for i in 0..<samples { if case .success = decoder.decode(corpus[i % corpus.count]) { ok += 1 } }
        let ours = Double(samples) / (ContinuousClock.now - start).secondsDouble
        precondition(ok == samples, "the benchmark corpus must decode")

        let json = JSONDecoder()
        let data = corpus.map { Data($0) }
        let foundationSamples = samples / 10
        start = ContinuousClock.now
        var decoded = 0
        for i in 0..<foundationSamples { if (try? json.decode(FoundationEvent.self, from: data[i % data.count])) != nil { decoded += 1 } }
        let theirs = Double(foundationSamples) / (ContinuousClock.now - start).secondsDouble
        precondition(decoded == foundationSamples, "the baseline must decode the same events")
        return (ours, theirs, corpus.reduce(0) { $0 + $1.count } / corpus.count)
    }

    /// The same fields, decoded by Foundation: the baseline.
    struct FoundationEvent: Decodable {
        var v: Int
        var event_id: String
        var symbol: String
        var seq: Int64
        var ts: Int64
        var kind: String
        var decision: String?
        var reason: String?
        var side: String?
        var qty, price, position, exposure, realized_pnl, unrealized_pnl: Double?
        var latency_us: Int64?
    }
}

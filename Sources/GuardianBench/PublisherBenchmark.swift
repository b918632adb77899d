import Foundation
import GuardianEvents
import GuardianKafka
import GuardianPublisher
import GuardianSupport
import Histogram

/// The publisher's figures: how long a `publish` call takes at a steady rate, and the highest rate
/// it sustains with delivery keeping up.
public enum PublisherBenchmark {
    public struct Latency: Sendable {
        public var p50Micros: Double
        public var p99Micros: Double
        public var p999Micros: Double
        public var maxMicros: Double
        public var calls: Int
    }

    /// Publishes at `rate` events/s for `duration`, timing every `publish` call.
    public static func callLatency(kafka: KafkaConfiguration, topic: String, rate: Int, duration: Duration, spool: URL) async throws -> Latency {
        let publisher = try GuardianPublisher(configuration: PublisherConfiguration(kafka: kafka, topic: topic, spoolDirectory: spool))
        var simulator = TradingSimulator(symbols: 64)
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let clock = ContinuousClock()
        let start = clock.now
        var sent = 0
        while clock.now - start < duration {
            let due = Int(Double(rate) * (clock.now - start).secondsDouble)
            while sent < due {
                let event = simulator.nextEvent(ts: WallClock.nowNanoseconds())
                let t0 = DispatchTime.now().uptimeNanoseconds
                publisher.publish(event)
                _ = histogram.record(DispatchTime.now().uptimeNanoseconds - t0)
                sent += 1
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await publisher.flush(timeout: .seconds(30))
        await publisher.close()
        return Latency(p50Micros: Double(histogram.valueAtPercentile(50)) / 1000, p99Micros: Double(histogram.valueAtPercentile(99)) / 1000,
                       p999Micros: Double(histogram.valueAtPercentile(99.9)) / 1000, maxMicros: Double(histogram.max) / 1000, calls: sent)
    }

    /// `publish` call latency while the brokers are down (events go to the spool) and then while the
    /// spool drains after they return: `setBrokers(false)` takes every broker down, `true` brings them back.
    public static func outageLatency(
        kafka: KafkaConfiguration, topic: String, rate: Int, spool: URL, setBrokers: @escaping @Sendable (Bool) async throws -> Void
    ) async throws -> (spooling: Latency, draining: Latency, spooled: Int, drainSeconds: Double) {
        let publisher = try GuardianPublisher(configuration: PublisherConfiguration(kafka: kafka, topic: topic, spoolDirectory: spool))
        var simulator = TradingSimulator(symbols: 64)
        let clock = ContinuousClock()
        func run(for limit: Duration, record: Bool, until done: () -> Bool) async throws -> Latency {
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            let start = clock.now
            var sent = 0
            while clock.now - start < limit && !done() {
                let due = Int(Double(rate) * (clock.now - start).secondsDouble)
                while sent < due {
                    let event = simulator.nextEvent(ts: WallClock.nowNanoseconds())
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    publisher.publish(event)
                    if record { _ = histogram.record(DispatchTime.now().uptimeNanoseconds - t0) }
                    sent += 1
                }
                try await Task.sleep(for: .milliseconds(1))
            }
            return Latency(p50Micros: Double(histogram.valueAtPercentile(50)) / 1000, p99Micros: Double(histogram.valueAtPercentile(99)) / 1000,
                           p999Micros: Double(histogram.valueAtPercentile(99.9)) / 1000, maxMicros: Double(histogram.max) / 1000, calls: sent)
        }
        _ = try await run(for: .seconds(1), record: false) { false }
        try await setBrokers(false)
        _ = try await run(for: .seconds(15), record: false) { publisher.isSpooling }  // until the outage is noticed
        let spooling = try await run(for: .seconds(5), record: true) { false }
        try await setBrokers(true)
        let drainStart = clock.now
        let draining = try await run(for: .seconds(60), record: true) { !publisher.isSpooling }
        let drainSeconds = (clock.now - drainStart).secondsDouble
        try await publisher.flush(timeout: .seconds(60))
        let spooled = publisher.counters.spooled
        await publisher.close()
        return (spooling, draining, spooled, drainSeconds)
    }

    /// Publishes `count` events as fast as one thread can, then waits for delivery: events/s end to end,
    /// and the rate of the calls alone.
    public static func maxRate(kafka: KafkaConfiguration, topic: String, count: Int, spool: URL) async throws -> (delivered: Double, calls: Double, spooled: Int) {
        let publisher = try GuardianPublisher(configuration: PublisherConfiguration(kafka: kafka, topic: topic, spoolDirectory: spool))
        var simulator = TradingSimulator(symbols: 64)
        let events = (0..<min(count, 100_000)).map { _ in simulator.nextEvent(ts: WallClock.nowNanoseconds()) }
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<count {
            var e = events[i % events.count]
            if i >= events.count { e.eventID = .random() }
            publisher.publish(e)
        }
        let called = clock.now - start
        try await publisher.flush(timeout: .seconds(120))
        let total = clock.now - start
        let spooled = publisher.counters.spooled
        await publisher.close()
        return (Double(count) / total.secondsDouble, Double(count) / called.secondsDouble, spooled)
    }
}

import ArgumentParser
import GuardianDevBroker
import Foundation
import GuardianBench
import GuardianSupport

/// `guardian bench …`: helpers `make bench` (scripts/bench.sh) calls.
struct BenchCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark helpers used by `make bench`.",
        subcommands: [Preload.self, WaitDrained.self, LowWatermarks.self, Decode.self, Publish.self])

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publisher call latency at a steady rate, and its highest sustained rate.")
        @OptionGroup var kafka: KafkaOptions
        @Option var rate: Int = 5000
        @Option var seconds: Int = 10
        @Option var count: Int = 500_000

        func run() async throws {
            let spool = FileManager.default.temporaryDirectory.appendingPathComponent("bench-spool-\(getpid())")
            defer { try? FileManager.default.removeItem(at: spool) }
            let k = try kafka.configuration()
            let l = try await PublisherBenchmark.callLatency(kafka: k, topic: kafka.resolvedTopic, rate: rate, duration: .seconds(seconds), spool: spool)
            print(String(format: "publish: %d calls at %d/s: p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs (target: p99 < 50 µs)",
                         l.calls, rate, l.p50Micros, l.p99Micros, l.p999Micros, l.maxMicros))
            let m = try await PublisherBenchmark.maxRate(kafka: k, topic: kafka.resolvedTopic, count: count, spool: spool)
            print(String(format: "publish: %d events as fast as one thread calls: %.0f calls/s, %.0f events/s delivered end to end (%d went through the spool)",
                         count, m.calls, m.delivered, m.spooled))
            // With the dev broker: the same calls while every broker is down (spooling), then while the spool drains.
            if let control = CommandEnvironment.string(Settings.devBrokerControl) {
                let client = try DevBrokerControlClient(address: control)
                let o = try await PublisherBenchmark.outageLatency(kafka: k, topic: kafka.resolvedTopic, rate: rate, spool: spool) { up in
                    _ = try await client.send(up ? "up all" : "down all")
                }
                for (phase, l) in [("while spooling (brokers down)", o.spooling), ("while the spool drains", o.draining)] {
                    print(String(format: "publish %@: %d calls at %d/s: p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs (target: p99 < 50 µs)",
                                 phase, l.calls, rate, l.p50Micros, l.p99Micros, l.p999Micros, l.maxMicros))
                }
                print(String(format: "publish: %d events went through the spool; it drained in %.1f s while publishing went on", o.spooled, o.drainSeconds))
            }
        }
    }

    struct LowWatermarks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "low-watermarks", abstract: "Messages the broker no longer holds, summed over partitions.")
        @OptionGroup var kafka: KafkaOptions

        func run() async throws {
            print(try await Benchmarks.lowWatermarks(kafka: try kafka.configuration(), topic: kafka.resolvedTopic))
        }
    }

    struct Preload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish synthetic events as fast as possible.")
        @OptionGroup var kafka: KafkaOptions
        @Option var count: Int = 300_000
        @Option var symbols: Int = 64
        @Option(help: "Spread symbols evenly over this many partitions instead of hashing keys.")
        var partitions: Int?

        func run() async throws {
            let n = try await Benchmarks.preload(kafka: try kafka.configuration(), topic: kafka.resolvedTopic, count: count,
                                                 symbols: symbols, partitions: partitions)
            print("preloaded \(n) events to \(kafka.resolvedTopic)")
        }
    }

    struct WaitDrained: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "wait-drained", abstract: "Wait until a group committed every end offset.")
        @OptionGroup var kafka: KafkaOptions
        @Option var group: String
        @Option var timeout: Int = 900

        func run() async throws {
            let r = try await Benchmarks.waitDrained(kafka: try kafka.configuration(), topic: kafka.resolvedTopic, group: group, timeout: .seconds(timeout))
            print("first_commit_s=\(r.firstCommit) done_s=\(r.done)")
        }
    }

    struct Decode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decoder throughput against Foundation's JSONDecoder, one thread.")
        @Option var samples: Int = 300_000

        func run() async throws {
            let r = Benchmarks.decodeThroughput(samples: samples)
            print(String(format: "decode: guardian %.0f events/s, Foundation JSONDecoder %.0f events/s (%.1fx), %d-byte events",
                         r.guardian, r.foundation, r.guardian / r.foundation, r.bytesPerEvent))
        }
    }
}

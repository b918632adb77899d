import ArgumentParser
import Foundation
import GuardianHTTP
import GuardianOperations
import GuardianSupport
import Logging
import Prometheus
import ServiceLifecycle

/// `guardian lag`: a group's consumer lag per partition, with time lag and Burrow-style status —
/// from the brokers, so it works with every worker down. `--watch` repeats; `--serve` exports it.
struct LagCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lag",
        abstract: "Consumer lag per partition (offsets, time lag, status OK/WARN/STALL/STOP/REWIND), from the brokers.",
        discussion: """
            Status follows Burrow's rules over a window of samples: WARN (commits advance, lag grows), STALL (committed \
            offset still, lag > 0), STOP (no commit for longer than the window, lag > 0), REWIND (committed offset went \
            back). A one-off run takes --samples samples --interval seconds apart (default 3 over 2 s).
            """)

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var log: LogOptions

    @Option(help: "Consumer group; repeatable with --serve (env GUARDIAN_GROUP, default guardian-workers).")
    var group: [String] = []

    @Option(help: "table or json.")
    var format: String = "table"

    @Option(help: "Print again every this many seconds (until Ctrl-C, or --count times).")
    var watch: Int?

    @Option(help: "With --watch: stop after this many reports.")
    var count: Int?

    @Option(help: "Samples a one-off run takes before reporting.")
    var samples: Int = 3

    @Option(help: "Seconds between a one-off run's samples.")
    var interval: Double = 1

    @Option(help: "Samples in the status window (Burrow's default 10).")
    var window: Int = 10

    @Flag(help: "Ask the brokers to describe the group (members, CONSUMER-ID): for Apache Kafka. Off by default: against a broker without DescribeGroups, such as the dev broker, librdkafka 2.0.2 can crash.")
    var describeGroups = false

    @Option(help: "Serve Prometheus metrics on HOST:PORT instead of printing (a standalone lag exporter); samples every --watch seconds (default 10).")
    var serve: String?

    var groups: [String] { group.isEmpty ? [CommandEnvironment.string(Settings.group) ?? "guardian-workers"] : group }

    func validate() throws {
        guard ["table", "json"].contains(format) else { throw ValidationError("--format is table or json, not '\(format)'") }
        if let watch, watch < 1 { throw ValidationError("--watch needs at least 1 second") }
        if samples < 1 { throw ValidationError("--samples needs at least 1") }
        if serve == nil && groups.count > 1 { throw ValidationError("give one --group (several only with --serve)") }
    }

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.lag")
        let topic = kafka.resolvedTopic
        if let serve { return try await runExporter(serve, topic: topic, logger: logger) }
        let sampler = try LagSampler(kafka: try kafka.configuration(), describeGroups: describeGroups)
        let group = groups[0]
        let step = watch.map(Double.init) ?? interval
        // STOP: no commit for longer than the window.
        var evaluator = LagEvaluator(windowSize: window, minimumSamples: min(3, max(2, samples)), stopAfter: Double(window) * step)
        let started = Date()
        var taken = 0
        if watch == nil {
            var last: GroupLagSample?
            for i in 0..<samples {
                if i > 0 { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
                let s = try await sampler.sample(group: group, topic: topic)
                evaluator.record(s)
                last = s
                taken += 1
            }
            print(render(LagReport(sample: last!, evaluator: evaluator, samples: taken, seconds: Date().timeIntervalSince(started))))
            exitAfterDescribingGroups()
        }
        var reports = 0
        while count.map({ reports < $0 }) ?? true {
            if reports > 0 { try await Task.sleep(for: .seconds(watch!)) }
            let s = try await sampler.sample(group: group, topic: topic)
            evaluator.record(s)
            taken = min(taken + 1, window)
            let report = LagReport(sample: s, evaluator: evaluator, samples: taken, seconds: Double(taken - 1) * step)
            if format == "table" { print("\n\(TimeArgument.iso(Int64(s.time * 1000)))") }
            print(render(report))
            fflush(nil)
            reports += 1
        }
        exitAfterDescribingGroups()
    }

    func render(_ r: LagReport) -> String { format == "json" ? r.json : r.table }

    func runExporter(_ address: String, topic: String, logger: Logger) async throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("--serve wants HOST:PORT, like 0.0.0.0:9401")
        }
        let host = String(address[..<colon])
        try ListenAddress.checkAvailable(host: host, port: port, setting: "--serve")
        let registry = PrometheusCollectorRegistry()
        MetricsServer.bootstrap(registry: registry)
        let exporter = try LagExporter(
            configuration: .init(targets: groups.map { (group: $0, topic: topic) }, interval: .seconds(watch ?? 10), windowSize: window),
            kafka: try kafka.configuration(), logger: logger)
        let http = MetricsServer.application(registry: registry, host: host, port: port, logger: logger, onRunning: { bound in
            logger.info("lag exporter serving /metrics", metadata: ["address": "\(host):\(bound)", "groups": "\(groups.joined(separator: ","))", "topic": "\(topic)"])
        })
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: exporter, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup),
                .init(service: http, failureTerminationBehavior: .cancelGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

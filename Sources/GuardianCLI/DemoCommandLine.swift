import ArgumentParser
import Foundation
import GuardianDemo
import GuardianStores
import GuardianSupport
import Synchronization

/// `guardian demo`: what `make run` shows — a simulated engine, a worker fleet, live figures, a verified result.
struct DemoCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Publish simulated guardian events to a worker fleet for a while, show live figures, verify the result.")

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var log: LogOptions

    @Option(help: "Worker processes to start.")
    var workers: Int = 3
    @Option(help: "Symbols to simulate.")
    var symbols: Int = 64
    @Option(help: "Events per second to publish.")
    var rate: Int = 5000
    @Option(help: "Seconds to publish for.")
    var duration: Int = 20
    @Option(help: "Consumer group for the demo's workers (default: a fresh one per run).")
    var group: String?
    @Option(help: "Folder with migrations/ (env GUARDIAN_SCHEMAS_DIR).")
    var schemasDir: String? = CommandEnvironment.string(Settings.schemasDir)
    @Option(help: "Folder for worker logs (env GUARDIAN_RUN_DIR, default .run).")
    var logDir: String = CommandEnvironment.string(Settings.runDir) ?? ".run"
    @Flag(help: "Add a worker a third of the way through and stop one at two thirds, showing the partitions moving.")
    var scaleDemo = false

    func validate() throws {
        guard workers >= 1, symbols >= 1, rate >= 1, duration >= 1 else {
            throw ValidationError("--workers, --symbols, --rate and --duration must be positive")
        }
    }

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.demo")
        try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        var options = FleetDemo.Options(
            kafka: try kafka.configuration(), topic: kafka.resolvedTopic,
            group: group ?? "guardian-demo-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))",
            postgres: store.postgres, redis: try store.redis, workers: workers, symbols: symbols, rate: rate,
            duration: .seconds(duration), guardianBinary: binary,
            schemas: try SchemaDirectory.locate(explicit: schemasDir), logDirectory: logDir)
        options.scaleDemo = scaleDemo
        options.workerEnvironment = CommandEnvironment.values
        // Ctrl-C stops publishing; the workers (same process group) drain and leave on their own SIGINT.
        let interrupted = Atomic<Bool>(false)
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT)
        source.setEventHandler { interrupted.store(true, ordering: .relaxed) }
        source.resume()
        let ok = try await FleetDemo(options: options, logger: logger).run { interrupted.load(ordering: .relaxed) }
        source.cancel()
        if !ok || interrupted.load(ordering: .relaxed) { throw ExitCode.failure }
    }
}

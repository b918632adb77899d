import ArgumentParser
import Foundation
import GuardianEvents
import GuardianPublisher
import GuardianSupport
#if canImport(Glibc)
import Glibc

/// The C stdin stream (a global the Swift 6 checker cannot prove safe; only this thread reads it).
func stdinStream() -> UnsafeMutablePointer<FILE>? { fdopen(0, "r") }
#endif

/// Publisher options shared by `publish` and `simulate`.
struct PublisherOptions: ParsableArguments {
    @Option(help: "Spool folder used while Kafka is unreachable (env GUARDIAN_SPOOL_DIR, default ./guardian-spool).")
    var spoolDir: String?

    @Option(help: "Spool size limit in MB (env GUARDIAN_SPOOL_MAX_MB, default 1024).")
    var spoolMaxMb: Int?

    @Option(help: "Seconds to wait for delivery before exiting; what is left stays in the spool for the next run.")
    var flushTimeout: Int = 30

    func configuration(kafka: KafkaOptions) throws -> PublisherConfiguration {
        try Self.configuration(kafka: kafka, spoolDir: spoolDir, spoolMaxMb: spoolMaxMb)
    }

    /// The publisher's configuration from flags, then the environment, then the defaults.
    static func configuration(kafka: KafkaOptions, spoolDir: String?, spoolMaxMb: Int? = nil) throws -> PublisherConfiguration {
        let defaults = PublisherConfiguration()
        let maxMB = try spoolMaxMb ?? CommandEnvironment.int(Settings.spoolMaxMB)
        return PublisherConfiguration(
            kafka: try kafka.configuration(), topic: kafka.resolvedTopic, spoolDirectory: spoolDirectory(spoolDir),
            spoolMaxBytes: maxMB.map { $0 << 20 } ?? defaults.spoolMaxBytes,
            maxEventBytes: try CommandEnvironment.int(Settings.maxEventBytes) ?? defaults.maxEventBytes)
    }

    /// `--spool-dir`, else `GUARDIAN_SPOOL_DIR`, else `./guardian-spool`.
    static func spoolDirectory(_ flag: String?) -> URL {
        flag.map { URL(fileURLWithPath: $0) } ?? CommandEnvironment.string(Settings.spoolDir).map { URL(fileURLWithPath: $0) }
            ?? PublisherConfiguration().spoolDirectory
    }
}

/// Prints publisher errors to stderr, at most a few a second.
final class ErrorReporter: @unchecked Sendable {
    private let lock = NSLock()
    private var last = ContinuousClock.now - .seconds(10)
    private var suppressed = 0

    func report(_ error: Error) {
        lock.lock()
        defer { lock.unlock() }
        if ContinuousClock.now - last < .milliseconds(500) { suppressed += 1; return }
        last = .now
        FileHandle.standardError.write(Data("publisher: \(error)\(suppressed > 0 ? " (+\(suppressed) more)" : "")\n".utf8))
        suppressed = 0
    }
}

/// `guardian publish`: validates JSON lines against contract v1 and publishes them.
struct PublishCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish guardian events from JSON lines (stdin or --file), validated against contract v1.",
        discussion: """
            A line that is not a valid v1 event (including one over GUARDIAN_MAX_EVENT_BYTES, default 1000000 \
            bytes) is reported as `line N: [event.reason] …` and not published. An event Kafka refuses for good \
            (too large for the broker, unknown topic, not authorized) is written to dead-letters.jsonl in the spool \
            directory and never blocks the events behind it.

            Exit status: 0 every accepted event was delivered; 1 some lines were rejected (0 with --skip-invalid); \
            2 some events were dropped (spool full) or dead-lettered; 3 some events are still in the spool (not \
            delivered within --flush-timeout; the next run delivers them). When several apply: 2, then 3, then 1.
            """)

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var publisher: PublisherOptions

    @Option(help: "Read events from this file instead of standard input.")
    var file: String?

    @Flag(help: "Exit 0 even when some lines were rejected.")
    var skipInvalid = false

    func run() async throws {
        let reporter = ErrorReporter()
        let pub = try GuardianPublisher(configuration: try publisher.configuration(kafka: kafka)) { reporter.report($0) }
        // Reading blocks: do it on a thread of its own; publishing never waits.
        let reader = DedicatedThread(name: "publish-input")
        defer { reader.shutdown() }
        let path = file
        let (read, rejected) = try await reader.run { () throws -> (Int, Int) in
            guard let stream = path.map({ fopen($0, "r") }) ?? stdinStream() else {
                throw ValidationError("cannot read \(path ?? "standard input"): \(String(cString: strerror(errno)))")
            }
            defer { if path != nil { fclose(stream) } }
            let decoder = EventDecoder()
            var read = 0, rejected = 0, lineNumber = 0
            var buffer: UnsafeMutablePointer<CChar>?
            var capacity = 0
            defer { free(buffer) }
            while true {
                let n = getline(&buffer, &capacity, stream)
                if n < 0 { break }
                lineNumber += 1
                var bytes = Array(UnsafeRawBufferPointer(start: buffer, count: n))
                while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
                if bytes.isEmpty { continue }
                read += 1
                switch decoder.decode(bytes) {
                case .success(let event): pub.publish(event)
                case .failure(let rejection):
                    rejected += 1
                    FileHandle.standardError.write(Data("line \(lineNumber): \(rejection)\n".utf8))
                }
            }
            return (read, rejected)
        }
        let flushed = (try? await pub.flush(timeout: .seconds(publisher.flushTimeout))) != nil
        await pub.close()
        let c = pub.counters
        let invalid = rejected + c.rejected
        print("publish: read \(read), published \(c.published), rejected \(invalid), delivered \(c.delivered)"
              + (c.spooled > 0 ? ", spooled \(c.spooled)" : "") + (c.dropped > 0 ? ", dropped \(c.dropped)" : "")
              + (c.deadLettered > 0 ? ", dead-lettered \(c.deadLettered) (see \(pub.deadLetterFile.path))" : "")
              + (flushed ? "" : " — not all delivered within \(publisher.flushTimeout) s: the rest is in the spool for the next run"))
        if c.dropped > 0 || c.deadLettered > 0 { throw ExitCode(2) }
        if !flushed || pub.spoolBytes > 0 { throw ExitCode(3) }
        if invalid > 0 && !skipInvalid { throw ExitCode(1) }
    }
}

/// `guardian simulate`: a trading-engine simulator publishing through the fail-open publisher.
struct SimulateCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a trading engine's guardian events (order checks, positions, PnL, locks, breaches) at a steady rate.")

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var publisher: PublisherOptions

    @Option(help: "Symbols to simulate.")
    var symbols: Int = 64
    @Option(help: "Events per second.")
    var rate: Int = 5000
    @Option(help: "Seconds to run (ignored with --count).")
    var duration: Int = 30
    @Option(help: "Publish exactly this many events, then stop.")
    var count: Int?

    func validate() throws {
        guard symbols > 0, rate > 0, duration > 0, (count ?? 1) > 0 else { throw ValidationError("--symbols, --rate, --duration and --count must be positive") }
    }

    func run() async throws {
        let reporter = ErrorReporter()
        let pub = try GuardianPublisher(configuration: try publisher.configuration(kafka: kafka)) { reporter.report($0) }
        var simulator = TradingSimulator(symbols: symbols)
        let clock = ContinuousClock()
        let start = clock.now
        var published = 0
        var lastLine = start
        var lastPublished = 0
        let target = count ?? Int.max
        while published < target && (count != nil || clock.now - start < .seconds(duration)) {
            let due = min(target, Int(Double(rate) * (clock.now - start).secondsDouble) + 1)
            while published < due {
                pub.publish(simulator.nextEvent(ts: WallClock.nowNanoseconds()))
                published += 1
            }
            let now = clock.now
            if now - lastLine >= .seconds(1) {
                let c = pub.counters
                print("simulate: t=\(Int((now - start).secondsDouble))s published \(published) (\(Int(Double(published - lastPublished) / (now - lastLine).secondsDouble))/s) delivered \(c.delivered) spooled \(c.spooled) dropped \(c.dropped)")
                lastLine = now
                lastPublished = published
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let flushed = (try? await pub.flush(timeout: .seconds(publisher.flushTimeout))) != nil
        await pub.close()
        let c = pub.counters
        print("simulate: published \(c.published) over \(simulator.symbols.count) symbols in \(String(format: "%.1f", (clock.now - start).secondsDouble)) s; delivered \(c.delivered), spooled \(c.spooled), dropped \(c.dropped)"
              + (flushed ? "" : " — not all delivered: the rest is in the spool for the next run"))
        if c.dropped > 0 { throw ExitCode(2) }
    }
}

import ArgumentParser
import Foundation
import GuardianEvents
import GuardianPublisher
import GuardianSupport

/// `guardian spool status|drain`: what a publisher's local spool holds, and delivering it by hand.
struct SpoolCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect or drain a publisher's local spool (events kept on disk while Kafka was unreachable).",
        subcommands: [Status.self, Drain.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undelivered records and bytes, the oldest record's age, damaged records, dead letters. Read-only: safe while a publisher runs.")

        @Option(help: "Spool folder (env GUARDIAN_SPOOL_DIR, default ./guardian-spool).")
        var spoolDir: String?

        @Option(help: "table or json.")
        var format: String = "table"

        func run() async throws {
            let dir = PublisherOptions.spoolDirectory(spoolDir)
            guard FileManager.default.fileExists(atPath: dir.path) else {
                throw ValidationError("no spool at \(dir.path) (set --spool-dir or GUARDIAN_SPOOL_DIR)")
            }
            let s = Spool.status(directory: dir)
            var age: Double?
            if let value = s.oldestValue, case .success(let e) = EventDecoder(maxEventBytes: Int.max).decode(value) {
                age = max(0, Double(WallClock.nowNanoseconds() - e.ts) / 1e9)
            }
            if format == "json" {
                let ageText = age.map { String(format: "%.3f", $0) } ?? "null"
                print(#"{"spool":"\#(dir.path)","records":\#(s.records),"bytes":\#(s.bytes),"oldest_age_seconds":\#(ageText),"corrupt":\#(s.corrupt),"dead_letters":\#(s.deadLetters)}"#)
            } else {
                print("spool \(dir.path): \(s.records) undelivered records, \(s.bytes) bytes"
                      + (age.map { String(format: ", oldest %.1f s old", $0) } ?? "")
                      + (s.corrupt > 0 ? ", \(s.corrupt) damaged (skipped on drain, copied to the dead-letter file)" : "")
                      + ", \(s.deadLetters) dead letters" + (s.deadLetters > 0 ? " (\(dir.appendingPathComponent("dead-letters.jsonl").path))" : ""))
            }
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deliver what the spool holds to Kafka, then exit.",
            discussion: "Exit status: 0 the spool is empty; 2 events were dead-lettered (Kafka refused them for good); 3 events are still in the spool after --timeout. The spool must not be in use by a running publisher.")

        @OptionGroup var kafka: KafkaOptions

        @Option(help: "Spool folder (env GUARDIAN_SPOOL_DIR, default ./guardian-spool).")
        var spoolDir: String?

        @Option(help: "Seconds to wait for delivery.")
        var timeout: Int = 60

        func run() async throws {
            let reporter = ErrorReporter()
            let configuration = try PublisherOptions.configuration(kafka: kafka, spoolDir: spoolDir)
            let before = Spool.status(directory: configuration.spoolDirectory)
            let publisher = try GuardianPublisher(configuration: configuration) { reporter.report($0) }
            let start = ContinuousClock.now
            var lastLine = start
            // Progress on long drains, a line every 5 s.
            let done: Bool = await {
                let deadline = start + .seconds(timeout)
                while ContinuousClock.now < deadline {
                    if (try? await publisher.flush(timeout: .seconds(1))) != nil { return true }
                    if ContinuousClock.now - lastLine >= .seconds(5) {
                        lastLine = .now
                        print("spool drain: \(publisher.counters.delivered) delivered, \(publisher.spoolBytes) bytes left")
                    }
                }
                return false
            }()
            await publisher.close()
            let c = publisher.counters
            print("spool drain: \(before.records) records found; \(c.delivered) delivered, \(c.deadLettered) dead-lettered"
                  + (done ? "; the spool is empty" : "; \(publisher.spoolBytes) bytes still in the spool after \(timeout) s"))
            if c.deadLettered > 0 { throw ExitCode(2) }
            if !done { throw ExitCode(3) }
        }
    }
}

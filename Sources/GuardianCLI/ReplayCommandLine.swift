import ArgumentParser
import Foundation
import GuardianOperations
import GuardianPostgres
import GuardianSupport
import Logging
import Synchronization

/// `guardian replay`: re-consumes a time range into the stores, with its own group, through the
/// worker's write path. Rows already stored are skipped; Redis never moves back.
struct ReplayCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-write the events of a time range from Kafka into TimescaleDB and Redis (idempotent; workers keep running).",
        discussion: """
            Messages whose Kafka timestamp is within [--from − margin, --to + margin] are read with the replay's own \
            consumer group (never the workers'). Publishers stamp each message with its event's ts, so event time and \
            Kafka time agree. Progress goes to stderr; the summary line to stdout.
            """)

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var log: LogOptions

    @Option(help: "Start of the range (ISO 8601, e.g. 2026-11-25T14:00:00Z).") var from: String
    @Option(help: "End of the range (ISO 8601); default: up to the end of the log.") var to: String?
    @Option(help: "Only these symbols (comma-separated).") var symbols: String?
    @Option(help: "The replay's consumer group (default guardian-replay).") var group: String = "guardian-replay"
    @Option(help: "Seconds added on both sides of the range (re-writing an extra event is harmless).") var marginSeconds: Int = 60
    @Flag(help: "Leave Redis alone (write only the database).") var noCache = false
    @Option(help: "Dead-letter topic for messages that cannot be stored (env GUARDIAN_DLQ_TOPIC, default <topic>.dlq).")
    var deadLetterTopic: String?

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.replay")
        let workers = CommandEnvironment.string(Settings.group) ?? "guardian-workers"
        guard group != workers else {
            throw ValidationError("--group \(group) is the workers' group: a replay uses its own (default guardian-replay)")
        }
        let request = ReplayRequest(
            fromMs: try TimeArgument.milliseconds(from), toMs: try to.map { try TimeArgument.milliseconds($0) },
            topic: kafka.resolvedTopic,
            symbols: symbols.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) },
            group: group, margin: .seconds(marginSeconds))
        let replayer = try Replayer(
            kafka: try kafka.configuration(), postgres: store.postgres, redis: noCache ? nil : try store.redis,
            deadLetterTopic: deadLetterTopic ?? CommandEnvironment.string(Settings.deadLetterTopic) ?? "\(request.topic).dlq", logger: logger)
        let plan = try await replayer.plan(request)
        let ranges = plan.ranges.filter { $0.count > 0 }.map { "\($0.partition):\($0.start)-\($0.stop)" }.joined(separator: " ")
        eprint("replay: \(request.topic) from \(TimeArgument.iso(plan.fromMs)) to \(plan.toMs == Int64.max ? "the end" : TimeArgument.iso(plan.toMs)) (margin \(marginSeconds) s included); offsets by \(plan.method.rawValue): \(plan.totalMessages) messages [\(ranges)]; group \(group)")
        let lastDone = Mutex<Int64>(-1)
        let result = try await replayer.run(request, plan: plan) { p in
            guard lastDone.withLock({ let same = $0 == p.messagesDone; $0 = p.messagesDone; return !same }) else { return }
            let eta = p.etaSeconds.map { String(format: "ETA %.0f s", $0) } ?? "ETA ?"
            eprint(String(format: "replay: %.0f%%  %lld/%lld messages  %.0f msg/s  ", p.fraction * 100, p.messagesDone, p.messagesTotal, p.rate)
                   + "\(eta)  (\(p.eventsRead) events, \(p.rowsWritten) rows written)")
        }
        if let e = result.cacheError { eprint("replay: Redis was not updated (\(e)); run `guardian cache rebuild` once it is back") }
        if result.deadLettered > 0 {
            eprint("replay: \(result.invalid) invalid messages and \(result.refused) rows the database refused were dead-lettered "
                   + "(on the dead-letter topic and in guardian_dead_letters)")
        }
        let db = try await PostgresConnection.connect(store.postgres)
        try await OperationsAudit(connection: db).record(
                actor: OperationsAudit.actor(environment: CommandEnvironment.values),
            operation: "replay", arguments: CommandLine.arguments.dropFirst().joined(separator: " "), outcome: "completed",
            details: [
                "topic": request.topic, "group": group, "from": TimeArgument.iso(plan.fromMs),
                "to": plan.toMs == Int64.max ? "end" : TimeArgument.iso(plan.toMs),
                "offsets": plan.ranges.map { ["partition": Int($0.partition), "start": NSNumber(value: $0.start), "stop": NSNumber(value: $0.stop)] },
                "events_read": result.eventsRead, "rows_written": result.rowsWritten, "already_present": result.alreadyPresent,
                "skipped": result.skipped, "invalid": result.invalid, "refused": result.refused, "dead_lettered": result.deadLettered,
                "cache_updated": result.cacheUpdated,
                "seconds": result.seconds,
            ])
        print(result.summary)
    }
}

/// A line on standard error (progress, notes), keeping stdout for results.
func eprint(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

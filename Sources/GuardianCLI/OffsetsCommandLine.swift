import ArgumentParser
import Foundation
import GuardianKafka
import GuardianOperations
import GuardianPostgres
import GuardianStores
import GuardianSupport
import Logging

/// `guardian offsets reset`: moves a group's committed offsets, like `kafka-consumer-groups
/// --reset-offsets`, and also lowers `guardian_checkpoints` so the workers really re-read.
struct OffsetsCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offsets",
        abstract: "Inspect or move a consumer group's committed offsets.",
        subcommands: [Reset.self])

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a group's committed offsets (old → new per partition). --dry-run shows, --execute applies.",
            discussion: """
                A group with running members is refused: stop its workers first. On --execute the tool joins the group, \
                commits, and leaves; it also lowers the group's guardian_checkpoints to the new offsets where they are ahead (workers \
                otherwise skip what is already durable), and records the reset in guardian_operations.
                """)

        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var log: LogOptions

        @Option(help: "Consumer group (env GUARDIAN_GROUP, default guardian-workers).")
        var group: String?

        @Flag(help: "To the oldest message each partition holds.") var toEarliest = false
        @Flag(help: "To the end of each partition (skip everything not consumed yet).") var toLatest = false
        @Option(help: "To the first message at or after this time (ISO 8601, e.g. 2026-11-25T14:00:00Z).") var toDatetime: String?
        @Option(parsing: .unconditional, help: "Move by N messages from the committed offset (negative: back).") var shiftBy: Int64?
        @Option(help: "Explicit offsets: PARTITION:OFFSET[,PARTITION:OFFSET…].") var toOffset: String?
        @Option(help: "Only these partitions (comma-separated).") var partitions: String?
        @Flag(help: "Show the move; change nothing.") var dryRun = false
        @Flag(help: "Apply the move.") var execute = false
        @Option(help: "table or json.") var format: String = "table"
        @Flag(help: "Do not touch the database (no checkpoint lowering, no audit record). Workers then skip back to their checkpoints unless GUARDIAN_SKIP_DURABLE=0.")
        var skipDatabase = false

    @Flag(help: "Ask the brokers to describe the group (members, CONSUMER-ID): for Apache Kafka. Off by default: against a broker without DescribeGroups, such as the dev broker, librdkafka 2.0.2 can crash.")
    var describeGroups = false

        func target() throws -> OffsetResetPlan.Target {
            var targets: [OffsetResetPlan.Target] = []
            if toEarliest { targets.append(.earliest) }
            if toLatest { targets.append(.latest) }
            if let toDatetime { targets.append(.datetime(try TimeArgument.milliseconds(toDatetime))) }
            if let shiftBy { targets.append(.shiftBy(shiftBy)) }
            if let toOffset { targets.append(.offsets(try OffsetResetPlan.parseOffsets(toOffset))) }
            guard targets.count == 1 else {
                throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-datetime, --shift-by, --to-offset")
            }
            return targets[0]
        }

        func validate() throws {
            guard dryRun != execute else { throw ValidationError("give --dry-run (show the move) or --execute (apply it)") }
            guard ["table", "json"].contains(format) else { throw ValidationError("--format is table or json, not '\(format)'") }
            _ = try target()
        }

        func run() async throws {
            let logger = try log.makeLogger(label: "guardian.offsets")
            let group = self.group ?? CommandEnvironment.string(Settings.group) ?? "guardian-workers"
            let topic = kafka.resolvedTopic
            let target = try target()
            var only: Set<Int32>?
            if let partitions {
                let parsed = partitions.split(separator: ",").map { Int32($0.trimmingCharacters(in: .whitespaces)) }
                guard !parsed.contains(nil) else { throw ValidationError("--partitions wants numbers like 0,3,7") }
                only = Set(parsed.compactMap { $0 })
            }
            let resetter = try OffsetResetter(kafka: try kafka.configuration(), logger: logger, describeGroups: describeGroups)
            // The database is reached before anything moves: a reset the workers would undo is no reset.
            let db = dryRun || skipDatabase ? nil : try await PostgresConnection.connect(store.postgres)
            let outcome = try await OffsetResetOperation(resetter: resetter).run(
                group: group, topic: topic, target: target, partitions: only, execute: execute, database: db,
                actor: OperationsAudit.actor(environment: CommandEnvironment.values), arguments: CommandLine.arguments.dropFirst().joined(separator: " "))
            if let method = outcome.method { FileHandle.standardError.write(Data("offsets for the time found by \(method.rawValue)\n".utf8)) }
            print(render(outcome.plan, group: group, topic: topic, committed: outcome.committed))
            if !outcome.executed {
                if format == "table" { print("dry run: nothing moved; run again with --execute to apply") }
                exitAfterDescribingGroups()
            }
            if format == "table" {
                if let check = outcome.check { print("executed: \(check.text)") }
                let l = outcome.checkpointsLowered
                if db != nil {
                    print("checkpoints lowered on \(l.isEmpty ? "no partition" : "partitions " + l.map(String.init).joined(separator: ","))" + (outcome.auditID.map { "; recorded as guardian_operations #\($0)" } ?? ""))
                } else {
                    print("database skipped: checkpoints not lowered, nothing recorded")
                }
            }
            let wrong = outcome.mismatched
            if !wrong.isEmpty {
                throw OperationError(.kafka, "the broker reports other offsets than committed for partitions \(wrong.map { String($0) }.joined(separator: ",")): check with guardian lag")
            }
            exitAfterDescribingGroups()
        }

        func render(_ plan: OffsetResetPlan, group: String, topic: String, committed: [Int32: Int64?]?) -> String {
            if format == "json" {
                let moves: [[String: Any]] = plan.moves.map { m in
                    var o: [String: Any] = ["partition": Int(m.partition), "old_offset": m.old.map { NSNumber(value: $0) } ?? NSNull(),
                                            "new_offset": NSNumber(value: m.new), "clamped": m.clamped]
                    if let committed { o["committed_now"] = (committed[m.partition] ?? nil).map { NSNumber(value: $0) } ?? NSNull() }
                    return o
                }
                let object: [String: Any] = ["group": group, "topic": topic, "executed": committed != nil, "partitions": moves]
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                return String(decoding: data, as: UTF8.self)
            }
            var rows = [["GROUP", "TOPIC", "PARTITION", "OLD-OFFSET", "NEW-OFFSET", "MOVE"]]
            for m in plan.moves {
                let delta = m.new - (m.old ?? m.new)
                rows.append([group, topic, String(m.partition), m.old.map(String.init) ?? "-", String(m.new) + (m.clamped ? " (clamped)" : ""),
                             m.old == nil ? "new" : (delta >= 0 ? "+\(delta)" : String(delta))])
            }
            let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
            return rows.map { r in zip(r, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ") }
                .joined(separator: "\n")
        }
    }
}

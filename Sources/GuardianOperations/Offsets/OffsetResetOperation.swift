import Foundation
import GuardianPostgres
import GuardianStores
import Synchronization

/// One offsets reset from plan to audit row, shared by `guardian offsets reset` and the API's
/// `POST /v1/offsets/reset`: plans the move; when executed, lowers the group's checkpoints while
/// holding the group (workers would otherwise skip back to them), commits, and records the reset in
/// `guardian_operations` with its actor. A group with running members is refused by `OffsetResetter`.
public struct OffsetResetOperation: Sendable {
    /// What a reset planned and, when executed, did.
    public struct Outcome: Sendable {
        public var group: String
        public var topic: String
        public var plan: OffsetResetPlan
        /// How a `.datetime` target's offsets were found.
        public var method: TimestampSearch.Method?
        /// Set when executed.
        public var check: OffsetResetter.MembershipCheck?
        /// The committed offsets read back after the commit; nil for a dry run.
        public var committed: [Int32: Int64?]?
        public var checkpointsLowered: [Int32] = []
        /// The `guardian_operations` row; nil for a dry run or without a database.
        public var auditID: Int64?

        public var executed: Bool { committed != nil }

        /// Partitions whose committed offset read back is not the planned one.
        public var mismatched: [Int32] {
            guard let committed else { return [] }
            return plan.moves.filter { (committed[$0.partition] ?? nil) != $0.new }.map(\.partition)
        }
    }

    public let resetter: OffsetResetter

    public init(resetter: OffsetResetter) {
        self.resetter = resetter
    }

    /// Plans the reset of `group` on `topic` (only `partitions` when given) and, with `execute`,
    /// applies it. `database` nil skips the checkpoints and the audit row (`--skip-database`).
    public func run(
        group: String, topic: String, target: OffsetResetPlan.Target, partitions: Set<Int32>?, execute: Bool,
        database: PostgresConnection?, actor: String, arguments: String
    ) async throws -> Outcome {
        let (plan, method) = try await resetter.plan(group: group, topic: topic, target: target, only: partitions)
        var outcome = Outcome(group: group, topic: topic, plan: plan, method: method)
        guard execute else { return outcome }
        let lowered = Mutex<[Int32]>([])
        let (check, committed) = try await resetter.execute(group: group, topic: topic, plan: plan) {
            guard let database else { return }
            let moved = try await Checkpoints(connection: database).lower(
                group: group, topic: topic, to: Dictionary(uniqueKeysWithValues: plan.moves.map { ($0.partition, $0.new) }))
            lowered.withLock { $0 = moved }
        }
        outcome.check = check
        outcome.committed = committed
        outcome.checkpointsLowered = lowered.withLock { $0 }
        if let database {
            let details: [String: Any] = [
                "group": group, "topic": topic, "mode": "\(target)",
                "moves": plan.moves.map { ["partition": Int($0.partition), "old": $0.old.map { NSNumber(value: $0) } ?? NSNull(), "new": NSNumber(value: $0.new)] },
                "membership_check": check.text, "checkpoints_lowered": outcome.checkpointsLowered.map { Int($0) },
            ]
            outcome.auditID = try await OperationsAudit(connection: database).record(
                actor: actor, operation: "offsets_reset", arguments: arguments, outcome: "executed", details: details)
        }
        return outcome
    }
}

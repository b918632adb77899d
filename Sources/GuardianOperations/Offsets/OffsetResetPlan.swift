import GuardianKafka
/// Where `guardian offsets reset` moves a group's committed offsets — pure: the targets per partition
/// from the mode, the group's committed offsets and the log's bounds.
public struct OffsetResetPlan: Sendable, Equatable {
    /// The reset modes of `kafka-consumer-groups --reset-offsets`.
    public enum Target: Sendable, Equatable {
        case earliest
        case latest
        /// The first offset at or after this time (milliseconds since the epoch); resolved per
        /// partition by `TimestampSearch` into `timeOffsets`.
        case datetime(Int64)
        /// The committed offset (or the oldest, when none) plus `n`, which may be negative.
        case shiftBy(Int64)
        /// Explicit offsets per partition.
        case offsets([Int32: Int64])
    }

    /// A partition's committed offset and log bounds, as the plan sees them.
    public typealias PartitionState = PartitionOffsets

    /// One partition's move.
    public struct Move: Sendable, Equatable {
        public var partition: Int32
        public var old: Int64?
        public var new: Int64
        /// True when the requested offset was outside the log and was brought to its nearest end.
        public var clamped: Bool
        public init(partition: Int32, old: Int64?, new: Int64, clamped: Bool = false) {
            self.partition = partition
            self.old = old
            self.new = new
            self.clamped = clamped
        }
    }

    public var moves: [Move]

    /// Plans the reset of `partitions` (only those in `only`, when given). For `.datetime`,
    /// `timeOffsets` holds each partition's first offset at or after the time.
    public static func make(
        _ target: Target, partitions: [PartitionState], only: Set<Int32>? = nil, timeOffsets: [Int32: Int64] = [:]
    ) throws(OperationError) -> OffsetResetPlan {
        let known = Set(partitions.map(\.partition))
        if let only, let missing = only.subtracting(known).min() {
            throw OperationError(.invalidArgument, "partition \(missing) does not exist (the topic has partitions 0–\((known.max() ?? -1)))")
        }
        if case .offsets(let explicit) = target, let missing = Set(explicit.keys).subtracting(known).min() {
            throw OperationError(.invalidArgument, "partition \(missing) does not exist (the topic has partitions 0–\((known.max() ?? -1)))")
        }
        var moves: [Move] = []
        for p in partitions.sorted(by: { $0.partition < $1.partition }) {
            if let only, !only.contains(p.partition) { continue }
            let wanted: Int64
            switch target {
            case .earliest: wanted = p.low
            case .latest: wanted = p.high
            case .datetime:
                guard let o = timeOffsets[p.partition] else {
                    throw OperationError(.invalidArgument, "no offset was found for partition \(p.partition) at the requested time")
                }
                wanted = o
            case .shiftBy(let n): wanted = (p.committed ?? p.low) &+ n
            case .offsets(let explicit):
                guard let o = explicit[p.partition] else { continue }
                wanted = o
            }
            let clampedValue = min(max(wanted, p.low), p.high)
            moves.append(Move(partition: p.partition, old: p.committed, new: clampedValue, clamped: clampedValue != wanted))
        }
        return OffsetResetPlan(moves: moves)
    }

    /// Parses `--to-offset P:O[,P:O…]`.
    public static func parseOffsets(_ text: String) throws(OperationError) -> [Int32: Int64] {
        var out: [Int32: Int64] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2, let p = Int32(parts[0].trimmingCharacters(in: .whitespaces)),
                  let o = Int64(parts[1].trimmingCharacters(in: .whitespaces)), p >= 0
            else { throw OperationError(.invalidArgument, "'\(item)' is not PARTITION:OFFSET (for example 0:1200,3:0)") }
            out[p] = o
        }
        guard !out.isEmpty else { throw OperationError(.invalidArgument, "--to-offset needs PARTITION:OFFSET pairs, for example 0:1200,3:0") }
        return out
    }
}

/// One partition's offsets at one moment: the log's bounds and, for a group, what it committed. The
/// one place the fleet's lag rule is written — `guardian lag`, the lag exporter, `guardian offsets`,
/// the API's fleet monitor and the worker's `guardian_consumer_lag` all count with it.
public struct PartitionOffsets: Sendable, Equatable {
    public var partition: Int32
    /// The group's committed offset (the next message it will read); nil when it committed none (or
    /// no group was asked).
    public var committed: Int64?
    /// The oldest offset the log still holds.
    public var low: Int64
    /// The end of the log: the offset the next message will get.
    public var high: Int64

    public init(partition: Int32, committed: Int64?, low: Int64, high: Int64) {
        self.partition = partition
        self.committed = committed
        self.low = low
        self.high = high
    }

    /// Where the group resumes: its committed offset, or the oldest message when it has none or
    /// retention deleted past it (`auto.offset.reset=earliest`).
    public var position: Int64 { Self.position(committed: committed, low: low) }

    /// Messages the group has not consumed yet.
    public var lag: Int64 { Self.lag(committed: committed, low: low, high: high) }

    public static func position(committed: Int64?, low: Int64) -> Int64 { max(committed ?? low, low) }

    public static func lag(committed: Int64?, low: Int64, high: Int64) -> Int64 {
        max(0, high - position(committed: committed, low: low))
    }
}

import GuardianKafka

/// One partition's position at one moment: what the group committed and what the log holds.
public struct PartitionLagSample: Sendable, Equatable {
    public var partition: Int32
    /// The group's committed offset (the next message it will read); nil when it committed none.
    public var committed: Int64?
    /// The oldest offset the log still holds.
    public var low: Int64
    /// The end of the log (the offset the next message will get).
    public var end: Int64
    /// Seconds between now and the timestamp of the oldest unconsumed message; 0 when caught up,
    /// nil when that message has no timestamp or could not be read.
    public var timeLagSeconds: Double?
    /// The member that owns the partition, where the broker can describe groups.
    public var consumerID: String?

    public init(partition: Int32, committed: Int64?, low: Int64, end: Int64, timeLagSeconds: Double? = nil, consumerID: String? = nil) {
        self.partition = partition
        self.committed = committed
        self.low = low
        self.end = end
        self.timeLagSeconds = timeLagSeconds
        self.consumerID = consumerID
    }

    /// Messages not consumed yet (`PartitionOffsets.lag`: from the committed offset, or from the
    /// oldest message the log holds when there is none or retention deleted past it).
    public var lag: Int64 { PartitionOffsets.lag(committed: committed, low: low, high: end) }

    /// Where consumption resumes (`PartitionOffsets.position`).
    public var position: Int64 { PartitionOffsets.position(committed: committed, low: low) }
}

/// A group's position on every partition of a topic at one moment.
public struct GroupLagSample: Sendable, Equatable {
    public var group: String
    public var topic: String
    /// Seconds since the Unix epoch when the sample was taken.
    public var time: Double
    public var partitions: [PartitionLagSample]
    /// False when the broker cannot describe groups (consumer ids unknown).
    public var membersKnown: Bool

    public init(group: String, topic: String, time: Double, partitions: [PartitionLagSample], membersKnown: Bool = false) {
        self.group = group
        self.topic = topic
        self.time = time
        self.partitions = partitions
        self.membersKnown = membersKnown
    }

    public var totalLag: Int64 { partitions.reduce(0) { $0 + $1.lag } }
    public var maxTimeLagSeconds: Double { partitions.compactMap(\.timeLagSeconds).max() ?? 0 }
    /// True when the group committed an offset for at least one partition.
    public var hasCommits: Bool { partitions.contains { $0.committed != nil } }
}

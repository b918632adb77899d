/// What the group coordinator says about a consumer group (Kafka's DescribeGroups).
public struct ConsumerGroupDescription: Sendable, Equatable {
    /// A member of the group.
    public struct Member: Sendable, Equatable {
        public var consumerID: String
        public var clientID: String
        public var host: String
        /// The partitions assigned to this member.
        public var assignment: [TopicPartition]
    }

    public var groupID: String
    /// `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Dead` or `Unknown`.
    public var state: String
    public var members: [Member]

    /// True when some consumer is in the group (its offsets must not be changed under it).
    public var hasMembers: Bool { !members.isEmpty }
}

import GuardianEvents

/// An event together with where it came from in Kafka.
public struct StoredEvent: Sendable, Equatable {
    public var event: GuardianEvent
    public var partition: Int32
    public var offset: Int64

    public init(event: GuardianEvent, partition: Int32, offset: Int64) {
        self.event = event
        self.partition = partition
        self.offset = offset
    }
}

import GuardianKafka

/// What a replay will read: per partition, the offsets from the first message of the time range
/// (minus the margin) up to the first after it (plus the margin), and the time filter itself.
public struct ReplayPlan: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        public var partition: Int32
        /// First offset to read.
        public var start: Int64
        /// First offset not to read.
        public var stop: Int64
        public var count: Int64 { max(0, stop - start) }
        public init(partition: Int32, start: Int64, stop: Int64) {
            self.partition = partition
            self.start = start
            self.stop = stop
        }
    }

    public var topic: String
    public var ranges: [Range]
    /// Messages whose Kafka timestamp is in `fromMs ... toMs` (margin included) are replayed.
    public var fromMs: Int64
    public var toMs: Int64
    /// How the offsets were found.
    public var method: TimestampSearch.Method

    public var totalMessages: Int64 { ranges.reduce(0) { $0 + $1.count } }
}

/// What a replay asks for.
public struct ReplayRequest: Sendable {
    /// Start of the range, milliseconds since the epoch.
    public var fromMs: Int64
    /// End of the range; nil: up to the end of the log when the replay starts.
    public var toMs: Int64?
    public var topic: String
    /// Only these symbols (nil: all).
    public var symbols: Set<String>?
    /// The replay's own consumer group (never the workers'), so its progress is visible with `guardian lag`.
    public var group: String
    /// Widens the range on both sides: re-writing an extra event is harmless, missing one is not. Default 60 s.
    public var margin: Duration
    /// Events per database write. Default 2000.
    public var batchSize: Int

    public init(fromMs: Int64, toMs: Int64?, topic: String, symbols: Set<String>? = nil, group: String = "guardian-replay",
                margin: Duration = .seconds(60), batchSize: Int = 2000) {
        self.fromMs = fromMs
        self.toMs = toMs
        self.topic = topic
        self.symbols = symbols
        self.group = group
        self.margin = margin
        self.batchSize = batchSize
    }
}

/// Where a replay stands, for progress output.
public struct ReplayProgress: Sendable {
    public var messagesDone: Int64
    public var messagesTotal: Int64
    public var eventsRead: Int
    public var rowsWritten: Int
    public var elapsedSeconds: Double

    public var rate: Double { elapsedSeconds > 0 ? Double(messagesDone) / elapsedSeconds : 0 }
    /// Seconds left at the current rate; nil before there is a rate.
    public var etaSeconds: Double? { rate > 0 ? Double(max(0, messagesTotal - messagesDone)) / rate : nil }
    public var fraction: Double { messagesTotal > 0 ? min(1, Double(messagesDone) / Double(messagesTotal)) : 1 }
}

/// What a replay did.
public struct ReplayResult: Sendable {
    /// Valid events in the range (time and symbols) read from Kafka.
    public var eventsRead = 0
    /// Rows that were missing and are now stored.
    public var rowsWritten = 0
    /// Events that were already stored (skipped by the unique key).
    public var alreadyPresent = 0
    /// Messages in the offsets read that fell outside the time range or the symbols.
    public var skipped = 0
    /// Messages that are not valid events (dead-lettered).
    public var invalid = 0
    /// Events the database refused for their data (dead-lettered).
    public var refused = 0
    /// Dead letters delivered to the dead-letter topic and recorded in `guardian_dead_letters` (one row
    /// per offset: those the workers recorded when they first saw them are not recorded twice).
    public var deadLettered = 0
    /// Symbols whose Redis state moved forward; stale states never move back.
    public var cacheUpdated = 0
    /// Set when Redis could not be updated (the database is; run `guardian cache rebuild` later).
    public var cacheError: String?
    public var seconds: Double = 0

    public init() {}

    public var summary: String {
        "replay: \(eventsRead) events read, \(rowsWritten) rows written, \(alreadyPresent) already present"
    }
}

/// Burrow's consumer status rules over a sliding window of samples — pure, so each rule is unit-tested
/// from recorded sample sequences. Feed it every sample of a group in order; ask for the statuses.
///
/// Per partition, over the last `windowSize` samples:
/// - lag 0 in the newest sample → OK;
/// - the committed offset went back between two samples → REWIND;
/// - the committed offset has not moved, with lag in every sample since it last moved, for longer
///   than `stopAfter` → STOP (no commit for longer than the window);
/// - … for at least `minimumSamples` samples → STALL;
/// - the offset advances but the lag grew across the window (never shrinking, `minimumSamples` or more) → WARN;
/// - otherwise OK (also while fewer than `minimumSamples` samples exist).
/// The group's status is its worst partition's.
public struct LagEvaluator: Sendable {
    /// One partition's view in one sample.
    public struct Observation: Sendable, Equatable {
        public var time: Double
        public var committed: Int64?
        public var lag: Int64
        public init(time: Double, committed: Int64?, lag: Int64) {
            self.time = time
            self.committed = committed
            self.lag = lag
        }
    }

    public var windowSize: Int
    public var minimumSamples: Int
    /// Seconds without a commit (with lag) after which a partition is STOP.
    public var stopAfter: Double

    private var history: [Int32: [Observation]] = [:]
    /// When each partition's committed offset was first seen at its current value.
    private var unchangedSince: [Int32: Double] = [:]

    /// - Parameters:
    ///   - windowSize: samples kept per partition (Burrow's default is 10).
    ///   - minimumSamples: samples needed before STALL or WARN can be said.
    ///   - stopAfter: seconds without a commit, with lag, that make a partition STOP.
    public init(windowSize: Int = 10, minimumSamples: Int = 3, stopAfter: Double) {
        self.windowSize = max(2, windowSize)
        self.minimumSamples = max(2, minimumSamples)
        self.stopAfter = stopAfter
    }

    /// Adds a sample of the group.
    public mutating func record(_ sample: GroupLagSample) {
        for p in sample.partitions {
            record(partition: p.partition, Observation(time: sample.time, committed: p.committed, lag: p.lag))
        }
    }

    /// Adds one partition's observation.
    public mutating func record(partition: Int32, _ o: Observation) {
        var h = history[partition, default: []]
        if h.last?.committed != o.committed || unchangedSince[partition] == nil { unchangedSince[partition] = o.time }
        h.append(o)
        if h.count > windowSize { h.removeFirst(h.count - windowSize) }
        history[partition] = h
    }

    /// The status of `partition` after the samples recorded so far.
    public func status(partition: Int32) -> LagStatus {
        guard let h = history[partition], let last = h.last else { return .ok }
        if last.lag == 0 { return .ok }
        for (a, b) in zip(h, h.dropFirst()) {
            if let ca = a.committed, let cb = b.committed, cb < ca { return .rewind }
            if a.committed != nil && b.committed == nil { return .rewind }  // offsets deleted: a reset to nothing
        }
        let since = unchangedSince[partition] ?? last.time
        let still = h.reversed().prefix { $0.committed == last.committed }
        if still.allSatisfy({ $0.lag > 0 }) {
            if last.time - since >= stopAfter && still.count >= 2 { return .stop }
            if still.count >= minimumSamples { return .stall }
        }
        if h.count >= minimumSamples, zip(h, h.dropFirst()).allSatisfy({ $1.lag >= $0.lag }), last.lag > h[0].lag {
            return .warn
        }
        return .ok
    }

    /// Each partition's status.
    public var partitionStatuses: [Int32: LagStatus] {
        Dictionary(uniqueKeysWithValues: history.keys.map { ($0, status(partition: $0)) })
    }

    /// The worst partition's status.
    public var groupStatus: LagStatus { partitionStatuses.values.max() ?? .ok }

    /// How many samples are held for `partition`.
    public func sampleCount(partition: Int32) -> Int { history[partition]?.count ?? 0 }
}

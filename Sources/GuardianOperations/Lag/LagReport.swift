import Foundation

/// A group's lag with statuses, as `guardian lag` prints it: a table like `kafka-consumer-groups
/// --describe` plus TIME-LAG and STATUS, or one JSON object.
public struct LagReport: Sendable {
    public var sample: GroupLagSample
    public var statuses: [Int32: LagStatus]
    public var groupStatus: LagStatus
    /// How many samples the statuses rest on, and over how many seconds.
    public var samples: Int
    public var seconds: Double

    public init(sample: GroupLagSample, evaluator: LagEvaluator, samples: Int, seconds: Double) {
        self.sample = sample
        self.statuses = evaluator.partitionStatuses
        self.groupStatus = evaluator.groupStatus
        self.samples = samples
        self.seconds = seconds
    }

    /// The JSON object: `group`, `topic`, `status`, `total_lag`, `max_time_lag_seconds`, `partitions`.
    public var json: String {
        var partitions: [[String: Any]] = []
        for p in sample.partitions {
            partitions.append([
                "partition": Int(p.partition),
                "committed_offset": p.committed.map { NSNumber(value: $0) } ?? NSNull(),
                "end_offset": NSNumber(value: p.end),
                "lag": NSNumber(value: p.lag),
                "time_lag_seconds": p.timeLagSeconds.map { NSNumber(value: Self.round($0)) } ?? NSNull(),
                "status": (statuses[p.partition] ?? .ok).rawValue,
                "consumer_id": p.consumerID.map { $0 as Any } ?? NSNull(),
            ])
        }
        let object: [String: Any] = [
            "group": sample.group, "topic": sample.topic, "status": groupStatus.rawValue,
            "total_lag": NSNumber(value: sample.totalLag),
            "max_time_lag_seconds": NSNumber(value: Self.round(sample.maxTimeLagSeconds)),
            "has_committed_offsets": sample.hasCommits,
            "samples": samples,
            "partitions": partitions,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func round(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }

    /// The table, its totals line, and a note when the group has no committed offsets.
    public var table: String {
        let header = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "TIME-LAG", "STATUS"]
        var rows = [header]
        for p in sample.partitions {
            rows.append([
                sample.group, sample.topic, String(p.partition), p.committed.map(String.init) ?? "-", String(p.end), String(p.lag),
                p.consumerID ?? "-", p.timeLagSeconds.map(Self.duration) ?? "?", (statuses[p.partition] ?? .ok).rawValue,
            ])
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        var lines = rows.map { row in
            zip(row, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        lines.append("TOTAL lag \(sample.totalLag) over \(sample.partitions.count) partitions, max time lag \(Self.duration(sample.maxTimeLagSeconds)), status \(groupStatus.rawValue) (\(samples) sample\(samples == 1 ? "" : "s") over \(String(format: "%.0f", seconds)) s)")
        if !sample.hasCommits {
            lines.insert("group '\(sample.group)' has no committed offsets on topic '\(sample.topic)' (it never committed there, or the name is wrong): lag counts from the oldest message each partition holds", at: 0)
        }
        if !sample.membersKnown {
            lines.append("CONSUMER-ID: members not shown (ask with --describe-groups on Apache Kafka; the dev broker cannot describe groups)")
        }
        return lines.joined(separator: "\n")
    }

    /// `0s`, `4.2s`, `3m12s`, `2h05m`.
    static func duration(_ s: Double) -> String {
        if s < 60 { return s == 0 ? "0s" : String(format: "%.1fs", s) }
        let whole = Int(s)
        if whole < 3600 { return "\(whole / 60)m\(String(format: "%02d", whole % 60))s" }
        return "\(whole / 3600)h\(String(format: "%02d", (whole % 3600) / 60))m"
    }
}

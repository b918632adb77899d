import GuardianOperations

/// When the fleet's state deserves an alert — pure: each observation (lag statuses, Redis reachable,
/// dead letters stored) against the previous one. Alerts on a change only: the group entering
/// REWIND, STALL or STOP (`lag_rewind`, `lag_stall`, `lag_stop`) and leaving it (`lag_ok`); Redis
/// unreachable (`cache_down`) and back (`cache_up`); dead letters stored since the last observation
/// (`dead_letters`). WARN alone does not alert: a group catching up after a burst is WARN for a while.
struct FleetAlertRules: Sendable {
    static let types = ["lag_rewind", "lag_stall", "lag_stop", "lag_ok", "cache_down", "cache_up", "dead_letters"]

    struct Observation: Sendable {
        var micros: Int64
        /// nil when no lag sample came (no Kafka, or the sample failed).
        var groupStatus: LagStatus?
        var partitionStatuses: [Int32: LagStatus] = [:]
        var redisReachable: Bool?
        /// Dead letters by reason; nil when the database did not answer.
        var deadLetters: [String: Int]?
    }

    let group: String
    let topic: String
    private var lastStatus: LagStatus?
    private var lastRedis: Bool?
    private var lastDeadLetters: [String: Int]?

    init(group: String, topic: String) {
        self.group = group
        self.topic = topic
    }

    mutating func observe(_ o: Observation) -> [Alert] {
        var out: [Alert] = []
        func alert(_ type: String, _ detail: String) { out.append(Alert(fleet: type, tsMicros: o.micros, detail: detail, group: group, topic: topic)) }
        if let status = o.groupStatus {
            let severe = status >= .rewind
            let wasSevere = (lastStatus ?? .ok) >= .rewind
            if severe && status != lastStatus {
                let partitions = o.partitionStatuses.filter { $0.value == status }.keys.sorted().map(String.init).joined(separator: ",")
                alert("lag_\(status.rawValue.lowercased())", "group \(group) on \(topic) is \(status.rawValue)"
                      + (partitions.isEmpty ? "" : " on partitions \(partitions)"))
            } else if !severe && wasSevere {
                alert("lag_ok", "group \(group) on \(topic) is \(status.rawValue) again (was \(lastStatus?.rawValue ?? "?"))")
            }
            lastStatus = status
        }
        if let reachable = o.redisReachable {
            if !reachable && lastRedis != false {
                alert("cache_down", "Redis does not answer: state reads come from the database, the workers mark the cache stale")
            } else if reachable && lastRedis == false {
                alert("cache_up", "Redis answers again")
            }
            lastRedis = reachable
        }
        if let counts = o.deadLetters {
            if let last = lastDeadLetters {
                let new = counts.map { ($0.key, $0.value - (last[$0.key] ?? 0)) }.filter { $0.1 > 0 }.sorted { $0.0 < $1.0 }
                let added = new.reduce(0) { $0 + $1.1 }
                if added > 0 {
                    alert("dead_letters", "\(added) new dead letter\(added == 1 ? "" : "s") ("
                          + new.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "), \(counts.values.reduce(0, +)) in all")
                }
            }
            lastDeadLetters = counts
        }
        return out
    }
}

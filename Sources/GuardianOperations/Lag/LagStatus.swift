/// A consumer's health on one partition (or a group's: its worst partition), after Burrow's rules.
public enum LagStatus: String, Sendable, Codable, CaseIterable, Comparable {
    /// Caught up, or consuming at least as fast as messages arrive.
    case ok = "OK"
    /// Committing, but the lag grew over the whole window: falling behind.
    case warn = "WARN"
    /// The committed offset went backwards (an offset reset, a replay in the group, a recreated topic).
    case rewind = "REWIND"
    /// The committed offset has not moved for several samples while there is lag.
    case stall = "STALL"
    /// No commit for longer than the window while there is lag: the consumer is gone or stuck.
    case stop = "STOP"

    /// The value of `guardian_consumer_group_status`: 0 OK, 1 WARN, 2 REWIND, 3 STALL, 4 STOP.
    public var severity: Int {
        switch self {
        case .ok: 0
        case .warn: 1
        case .rewind: 2
        case .stall: 3
        case .stop: 4
        }
    }

    public static func < (a: LagStatus, b: LagStatus) -> Bool { a.severity < b.severity }
}

import Foundation

/// Reads configuration from the process environment.
public enum Env {
    /// The value of `name`, or nil when unset or empty.
    public static func string(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    /// The integer value of `name`, or nil when unset or not a number.
    public static func int(_ name: String) -> Int? {
        string(name).flatMap { Int($0) }
    }
}

/// Monotonic clock helpers for deadlines in blocking code.
public enum Monotonic {
    /// Nanoseconds since an arbitrary fixed point.
    @inline(__always)
    public static func nanoseconds() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds
    }

    /// Seconds elapsed since `start` (from `nanoseconds()`).
    public static func seconds(since start: UInt64) -> Double {
        Double(nanoseconds() &- start) / 1e9
    }
}

import Foundation

/// Parses the times operators type: ISO 8601 (`2026-11-25T14:03:00Z`, with fractional seconds or an
/// offset, or a date alone as midnight UTC) or milliseconds since the epoch.
public enum TimeArgument {
    /// Milliseconds since the Unix epoch.
    public static func milliseconds(_ text: String) throws(OperationError) -> Int64 {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let ms = Int64(t), t.count >= 10 { return ms }
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate]] {
            let f = ISO8601DateFormatter()
            f.formatOptions = options
            if let d = f.date(from: t) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        }
        throw OperationError(.invalidArgument, "'\(text)' is not a time: use ISO 8601 like 2026-11-25T14:03:00Z (or +01:00), or milliseconds since the epoch")
    }

    /// `2026-11-25T14:03:00.123Z`.
    public static func iso(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}

import Foundation

/// An alert as a Slack-compatible incoming-webhook message: `text` (the notification line, also what
/// Mattermost, Rocket.Chat and Teams' Slack-compatible endpoints show) and `blocks`.
enum SlackMessage {
    static func body(for alert: Alert, group: String) -> Data {
        let what = alert.type.replacingOccurrences(of: "_", with: " ")
        let icon = ["circuit_breaker": "🛑", "risk_breach": "⚠️", "lag_stop": "🛑", "lag_stall": "⚠️", "lag_rewind": "⏪",
                    "lag_ok": "✅", "cache_down": "⚠️", "cache_up": "✅", "dead_letters": "📮"][alert.type] ?? "🔔"
        let time = JSONDocument.time(micros: alert.tsMicros)
        var line = "\(icon) \(what)"
        if let s = alert.symbol { line += " \(s)" }
        if let r = alert.reason { line += " — \(r)" }
        var detail = "*\(escape(what))*" + (alert.symbol.map { " on `\(escape($0))`" } ?? "")
        if let r = alert.reason { detail += "\n\(escape(r))" }
        detail += "\nat \(time)" + (alert.isFleet ? "" : " · event `\(alert.id)`")
        let object: [String: Any] = [
            "text": escape(line + " (\(time))"),
            "blocks": [
                ["type": "section", "text": ["type": "mrkdwn", "text": "\(icon) " + detail]],
                ["type": "context", "elements": [["type": "mrkdwn", "text": "Guardian Fleet · group \(escape(group))"]]],
            ],
        ]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    /// Slack reads `&`, `<` and `>` as markup: an event's reason must not become a link or a mention.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

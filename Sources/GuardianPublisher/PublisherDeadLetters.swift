import Foundation
import GuardianKafka
import Synchronization

/// Events Kafka will never accept (too large, unknown topic, not authorized, a fatal producer error),
/// set aside so they never block the events behind them and are never lost silently: one JSON line
/// each in `dead-letters.jsonl` in the spool directory — the time, the error code and message, the
/// topic, the key, and the event as published (`value`, or `value_base64` when it is not UTF-8).
final class PublisherDeadLetters: Sendable {
    let url: URL
    private let lock = Mutex(())

    init(directory: URL) {
        url = directory.appendingPathComponent("dead-letters.jsonl")
    }

    /// Kafka error codes that no retry can fix.
    static let permanentCodes: Set<Int32> = [
        10,    // MSG_SIZE_TOO_LARGE
        18,    // RECORD_LIST_TOO_LARGE
        87,    // INVALID_RECORD
        29,    // TOPIC_AUTHORIZATION_FAILED
        3,     // UNKNOWN_TOPIC_OR_PART (surfaces only once librdkafka gave up waiting for the topic)
        -188,  // _UNKNOWN_TOPIC
        -150,  // _FATAL (the idempotent producer cannot go on)
    ]

    static func isPermanent(_ error: KafkaError) -> Bool {
        error.rdkafkaCode.map(permanentCodes.contains) ?? false
    }

    /// Appends one line and syncs it to disk.
    func record(topic: String, key: [UInt8]?, value: [UInt8], errorCode: String, errorMessage: String) throws {
        var line: [String: Any] = [
            "time": ISO8601DateFormatter().string(from: Date()),
            "error_code": errorCode, "error": errorMessage, "topic": topic,
        ]
        if let key { line["key"] = String(decoding: key, as: UTF8.self) }
        if let text = String(bytes: value, encoding: .utf8) { line["value"] = text } else { line["value_base64"] = Data(value).base64EncodedString() }
        var data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes])
        data.append(0x0A)
        try lock.withLock { _ in
            if !FileManager.default.fileExists(atPath: url.path) {
                FileManager.default.createFile(atPath: url.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
            try handle.synchronize()
        }
    }

    /// How many dead letters the file holds.
    var count: Int {
        guard let data = try? Data(contentsOf: url) else { return 0 }
        return data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}

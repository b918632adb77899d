import Foundation
import Synchronization

/// What `/readyz` reports: each component's state, the cache's staleness, the paused partitions.
/// Ready means the worker can make progress: Kafka reachable and the database accepting writes.
/// Redis is best-effort by policy: down, it shows here and in `guardian_component_up` but does not
/// make the worker unready.
public struct WorkerHealth: Sendable, Equatable, Codable {
    public struct Component: Sendable, Equatable, Codable {
        public var up: Bool
        /// The last error while down.
        public var error: String?
    }

    public var kafka = Component(up: false, error: "not connected yet")
    public var database = Component(up: false, error: "not connected yet")
    public var redis = Component(up: false, error: "not connected yet")
    public var cacheStale = true
    public var ownedPartitions = 0
    /// The partition numbers owned, in order.
    public var partitions: [Int32] = []
    public var pausedPartitions = 0
    public var bufferedBytes = 0

    public init() {}

    public var ready: Bool { kafka.up && database.up }

    enum CodingKeys: String, CodingKey {
        case kafka, database, redis
        case cacheStale = "cache_stale"
        case ownedPartitions = "owned_partitions"
        case partitions
        case pausedPartitions = "paused_partitions"
        case bufferedBytes = "buffered_bytes"
    }

    /// The `/readyz` body: `{"ready": …, "kafka": {"up": …}, …}`.
    public var json: String {
        struct Body: Encodable {
            let ready: Bool
            let health: WorkerHealth
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: DynamicKey.self)
                try c.encode(ready, forKey: DynamicKey("ready"))
                try health.encode(to: encoder)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(Body(ready: ready, health: self))) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

private struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

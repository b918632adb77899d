import Foundation

/// The addresses of the local stack (`scripts/stack.sh up`) that the integration tests run against.
///
/// Read from the process environment (as `make test` exports it), else from `.run/stack.env` in the
/// checkout, so a plain `swift test` works after `scripts/stack.sh up`. A missing value is a test
/// failure with instructions, never a silent skip.
public struct StackEnvironment: Sendable {
    public let values: [String: String]

    public static let shared = StackEnvironment()

    init() {
        var values: [String: String] = [:]
        let file = Self.packageRoot.appendingPathComponent(".run/stack.env")
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                var value = String(line[line.index(after: eq)...])
                // Single-quoted as a shell reads it (paths may hold spaces).
                if value.count >= 2 && value.hasPrefix("'") && value.hasSuffix("'") {
                    value = String(value.dropFirst().dropLast()).replacingOccurrences(of: #"'\''"#, with: "'")
                }
                values[String(line[..<eq])] = value
            }
        }
        for (k, v) in ProcessInfo.processInfo.environment where !v.isEmpty { values[k] = v }
        self.values = values
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The value of `name`, or an error telling how to start the stack.
    public func require(_ name: String) throws -> String {
        guard let v = values[name], !v.isEmpty else {
            throw StackNotRunning(variable: name)
        }
        return v
    }

    public var kafkaBootstrapServers: String { get throws { try require("KAFKA_BOOTSTRAP_SERVERS") } }
    public var devBrokerControl: String { get throws { try require("GUARDIAN_DEV_BROKER_CONTROL") } }
    public var postgresURI: String { get throws { try require("TIMESCALEDB_URI") } }
    public var redisHost: String { get throws { try require("REDIS_HOST") } }
    /// The stack's Redis password (`requirepass`): every test connection authenticates.
    public var redisPassword: String { get throws { try require("REDIS_PASSWORD") } }
    /// The CA that signed the stack PostgreSQL's TLS certificate (for sslmode=verify-full).
    public var stackCA: String { get throws { try require("GUARDIAN_STACK_CA") } }
    /// `timescaledb` or `postgresql`, as `scripts/stack.sh` found it.
    public var storageMode: String? { values["GUARDIAN_STORAGE_MODE"] }
    public var isTimescaleDB: Bool { storageMode == "timescaledb" }
    public var redisPort: Int {
        get throws {
            let text = try require("REDIS_PORT")
            guard let port = Int(text) else { throw StackNotRunning(variable: "REDIS_PORT") }
            return port
        }
    }
}

/// Thrown when a test needs the local stack and it is not configured.
public struct StackNotRunning: Error, CustomStringConvertible {
    public let variable: String
    public var description: String {
        "\(variable) is not set: run the tests with `make test`, or start the stack with `scripts/stack.sh up` first"
    }
}

/// A short unique suffix for topic, group, table and key names, so tests never collide.
public func uniqueName(_ prefix: String) -> String {
    "\(prefix)-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
}

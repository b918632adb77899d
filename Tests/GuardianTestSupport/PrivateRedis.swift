#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A redis-server of one test's own on a loopback port (no persistence), so a test can kill it
/// and start it again empty without touching the shared stack. Stopped (SIGKILL) when released.
///
/// Its port comes from `closedLoopbackPort()`'s range (below the ephemeral ports, never handed out
/// twice): nothing else takes it while the server is down between `kill()` and `start()`.
public final class PrivateRedis: @unchecked Sendable {
    public let port: Int
    private let child = Mutex<Child?>(nil)

    /// Starts redis-server on a free port and waits until it answers.
    public init() async throws {
        port = try LoopbackPorts.reserve()  // never handed out again in this process: nobody takes it while down
        try await start()
    }

    deinit { kill() }

    /// Starts (again) on the same port, empty.
    public func start() async throws {
        let p = try Child(Self.binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
                          environment: [:])
        child.withLock { $0 = p }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline && p.isRunning {
            if Self.answers(port: port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PrivateServerError(message: "redis-server did not start on port \(port): \(p.stdout.suffix(1000))")
    }

    /// SIGKILL, as a crash would: whatever it held is gone.
    public func kill() {
        let p = child.withLock { c in defer { c = nil }; return c }
        guard let p else { return }
        p.signal(SIGKILL)
        while p.isRunning { usleep(10_000) }
    }

    static var binary: String {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "redis-server"
    }

    static func answers(port: Int) -> Bool { LoopbackPorts.onLoopbackSocket(port: port, connect) }
}

public struct PrivateServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GuardianTestSupport
import Testing

/// `guardian worker` as an operator runs it: a clear error for a busy metrics port, health and
/// readiness endpoints, SIGTERM drains and exits 0.
@Suite struct WorkerProcessTests {
    func workerProcess(_ f: WorkerFixture, arguments: [String]) -> (Process, Pipe) {
        let process = f.workerProcess(arguments)
        let err = Pipe()
        process.standardError = err
        return (process, err)
    }

    func waitForExit(_ p: Process, within timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while p.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            return false
        }
        return true
    }

    func get(_ url: String) async -> (status: Int, body: String)? {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return nil }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func aBusyMetricsPortFailsBeforeJoiningWithTheAddressAndTheSetting() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let busy = try SilentServer()
        let (p, err) = workerProcess(f, arguments: ["--metrics-port", String(busy.port)])
        try p.run()
        #expect(try await waitForExit(p, within: .seconds(20)), "exits on its own")
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus != 0)
        #expect(text.contains("127.0.0.1:\(busy.port)") && text.contains("GUARDIAN_METRICS_PORT") && text.contains("already in use"), "\(text)")
        try await f.database.drop()
    }

    @Test func readinessThenSigtermDrainsCommitsAndExitsZero() async throws {
        let f = try await WorkerFixture.make(partitions: 3)
        let port = try closedLoopbackPort()
        let (p, _) = workerProcess(f, arguments: ["--metrics-port", String(port)])
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        try await f.publish(count: 900, symbols: 9)
        try await f.waitUntil("every event stored and committed") {
            let rows = try await f.rowCounts().rows
            guard rows == 900 else { return false }
            return try await f.caughtUp()
        }
        #expect(await get("http://127.0.0.1:\(port)/healthz")?.status == 200)
        var ready: (status: Int, body: String)?
        try await f.waitUntil("ready", timeout: .seconds(20)) {
            ready = await get("http://127.0.0.1:\(port)/readyz")
            return ready?.status == 200
        }
        let body = try #require(ready?.body)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(json["ready"] as? Bool == true)
        #expect((json["database"] as? [String: Any])?["up"] as? Bool == true, "\(body)")
        #expect((json["kafka"] as? [String: Any])?["up"] as? Bool == true, "\(body)")
        #expect(json["paused_partitions"] as? Int == 0 && json["cache_stale"] as? Bool == false, "\(body)")
        let metrics = await get("http://127.0.0.1:\(port)/metrics")?.body ?? ""
        #expect(metrics.contains(#"guardian_component_up{component="database"} 1"#), "component gauges exported")

        kill(p.processIdentifier, SIGTERM)
        #expect(try await waitForExit(p, within: .seconds(30)), "SIGTERM drains within the shutdown deadline")
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        #expect(try await f.caughtUp(), "everything durable is committed")
        try await f.cleanUp(symbols: 9)
    }

    /// Issue 10, what was seen: against a Redis with a password the worker logged "connected", then
    /// failed every update with NOAUTH in a loop. Now a refused password is a clear configuration error
    /// naming the address and the setting; the worker keeps persisting (Redis is best-effort) and
    /// /readyz shows it. At debug level, no secret it was given appears in its log.
    @Test func aRefusedRedisPasswordIsSaidClearlyPersistenceGoesOnAndNoSecretIsLogged() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let port = try closedLoopbackPort()
        let redisSecret = "redis-\(UInt64.random(in: 0...UInt64.max))"
        let saslSecret = "sasl-\(UInt64.random(in: 0...UInt64.max))"
        let pgPassword = try #require(URLComponents(string: f.database.uri)?.password)
        let p = f.workerProcess(["--metrics-port", String(port), "--log-level", "debug", "--kafka", "sasl.password=\(saslSecret)"])
        p.environment?["REDIS_PASSWORD"] = redisSecret
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("worker-log"))
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        p.standardError = try FileHandle(forWritingTo: log)
        p.standardOutput = p.standardError
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        try await f.publish(count: 400, symbols: 8)
        try await f.waitUntil("every event stored and committed without Redis") {
            let rows = try await f.rowCounts().rows
            guard rows == 400 else { return false }
            return try await f.caughtUp()
        }
        let ready = await get("http://127.0.0.1:\(port)/readyz")
        #expect(ready?.status == 200, "Redis is best-effort: still ready")
        let body = try #require(ready?.body)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let redis = try #require(json["redis"] as? [String: Any])
        #expect(redis["up"] as? Bool == false)
        #expect((redis["error"] as? String)?.contains("refused the credentials") == true, "\(body)")
        #expect(json["cache_stale"] as? Bool == true)
        let metrics = await get("http://127.0.0.1:\(port)/metrics")?.body ?? ""
        #expect(metrics.contains("guardian_component_up"))
        kill(p.processIdentifier, SIGTERM)
        #expect(try await waitForExit(p, within: .seconds(30)))
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("Redis refused to authenticate") && text.contains("REDIS_PASSWORD"), "an error an operator can act on")
        #expect(text.contains("debug"), "a debug-level log was written")
        for (name, secret) in [("the Redis password", redisSecret), ("sasl.password", saslSecret), ("the PostgreSQL password", pgPassword)] {
            #expect(!text.contains(secret), "\(name) is in the log")
            #expect(!body.contains(secret), "\(name) is in /readyz")
        }
        #expect(!metrics.contains(redisSecret) && !metrics.contains(pgPassword) && !metrics.contains(saslSecret))
        try await f.database.drop()
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GuardianPostgres
import GuardianTestSupport
import Testing

/// `guardian worker` as an operator runs it: a clear error for a busy metrics port, health and
/// readiness endpoints, SIGTERM while a write is in flight drains it, or abandons it past the
/// shutdown deadline without committing it.
@Suite struct WorkerProcessTests {
    func get(_ url: String) async -> (status: Int, body: String)? {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return nil }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func aBusyMetricsPortFailsBeforeJoiningWithTheAddressAndTheSetting() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let busy = try SilentServer()
        let p = try f.startWorker(["--metrics-port", String(busy.port)])
        let r = try await p.wait(timeout: .seconds(60))
        #expect(!r.timedOut, "exits on its own")
        #expect(r.status != 0)
        #expect(r.stderr.contains("127.0.0.1:\(busy.port)") && r.stderr.contains("GUARDIAN_METRICS_PORT") && r.stderr.contains("already in use"), "\(r.stderr)")
        try await f.database.drop()
    }

    @Test func healthReadinessAndMetricsOfARunningWorkerThenSigtermExitsZero() async throws {
        let f = try await WorkerFixture.make(partitions: 3)
        let (p, port) = try await f.startServingWorker([])
        try await f.publish(count: 900, symbols: 9)
        try await f.waitUntil("every event stored and committed") {
            let rows = try await f.rowCounts().rows
            guard rows == 900 else { return false }
            return try await f.caughtUp()
        }
        #expect(await get("http://127.0.0.1:\(port)/healthz")?.status == 200)
        var ready: (status: Int, body: String)?
        try await f.waitUntil("ready", timeout: .seconds(60)) {
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

        p.signal(SIGTERM)
        let r = try await p.wait(timeout: .seconds(90))
        #expect(!r.timedOut && r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        try await f.cleanUp(symbols: 9)
    }

    /// A `guardian worker` (3 partitions) that stored and committed 300 events, then whose next write (of
    /// 600 more) waits on a lock that `blocker` holds on the events table from another session.
    func aWorkerWithAHeldWrite(shutdownTimeoutSeconds: Int) async throws -> (WorkerFixture, Child, PostgresConnection) {
        let f = try await WorkerFixture.make(partitions: 3)
        let p = try f.startWorker(["--metrics-port", "0", "--shutdown-timeout-seconds", String(shutdownTimeoutSeconds)])
        try await f.publish(count: 300, symbols: 6)
        try await f.waitUntil("the first 300 stored and committed") { try await f.stored(300) }
        let blocker = try await PostgresConnection.connect(f.database.configuration)
        _ = try await blocker.execute("BEGIN; LOCK TABLE guardian_events IN EXCLUSIVE MODE")
        try await f.publish(count: 600, symbols: 6, seqOffset: 1000)
        let db = try await PostgresConnection.connect(f.database.configuration)
        try await f.waitUntil("the worker's write waits on the lock") {
            try await db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").scalar != "0"
        }
        return (f, p, blocker)
    }

    /// A new worker of the group stores what is left: `total` rows, each event once, all committed.
    func aRestartedWorkerStoresEveryEventOnce(_ f: WorkerFixture, total: Int) async throws {
        let worker = try f.startWorker(["--metrics-port", "0"])
        // Running (it owns partitions) before anything is judged: the rest may already be stored.
        try await f.waitUntil("the restarted worker is assigned partitions") { worker.stderr.contains("partitions assigned") || !worker.isRunning }
        try await f.waitUntil("a restarted worker stores the rest") { try await f.stored(total) }
        worker.signal(SIGTERM)
        let r = try await worker.wait(timeout: .seconds(90))
        #expect(!r.timedOut && r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        #expect(try await f.rowCounts() == (total, total))
    }

    func committedTotal(_ f: WorkerFixture) async throws -> Int64 {
        try await f.committedOffsets().reduce(0) { $0 + ($1.offset ?? 0) }
    }

    /// SIGTERM arrives while a write is held in the database: the worker waits for it (within its
    /// shutdown deadline), commits exactly what became durable, leaves the group and exits 0.
    @Test func sigtermWhileAWriteIsInFlightDrainsItCommitsAndExitsZero() async throws {
        let (f, p, blocker) = try await aWorkerWithAHeldWrite(shutdownTimeoutSeconds: 60)
        p.signal(SIGTERM)
        // The worker is draining; nothing past what is durable may be committed meanwhile. 5 s is past the
        // 2 s a worker still gives an abandoned write, so a worker that did not wait would be gone by now.
        try await Task.sleep(for: .seconds(5))
        #expect(p.isRunning, "it waits for the in-flight write (shutdown deadline 60 s)")
        #expect(try await committedTotal(f) == 300, "nothing committed while the write is held")
        _ = try await blocker.execute("COMMIT")

        let r = try await p.wait(timeout: .seconds(90))
        #expect(!r.timedOut && r.status == 0, "exit \(r.status): \(r.stderr.suffix(2000))")
        let stored = try await f.rowCounts()
        #expect(stored.rows == stored.distinct)
        #expect(try await committedTotal(f) == Int64(stored.rows), "committed exactly what is stored (\(stored.rows) rows)")
        #expect(stored.rows > 300, "the held write was finished, not dropped")
        // Whatever was consumed after the drained batch is read again by the next worker: nothing lost.
        try await aRestartedWorkerStoresEveryEventOnce(f, total: 900)
        try await f.cleanUp(symbols: 6)
    }

    /// SIGTERM while a write is held past the shutdown deadline: the write is abandoned, nothing of it is
    /// committed, the worker exits; once the lock is gone a new worker stores every event exactly once.
    @Test func sigtermPastTheShutdownDeadlineAbandonsTheWriteAndCommitsNothingOfIt() async throws {
        let (f, p, blocker) = try await aWorkerWithAHeldWrite(shutdownTimeoutSeconds: 2)
        p.signal(SIGTERM)
        let r = try await p.wait(timeout: .seconds(90))
        #expect(!r.timedOut, "the shutdown deadline ends the wait")
        #expect(r.stderr.contains("abandoning"), "\(r.stderr.suffix(2000))")
        #expect(try await committedTotal(f) == 300, "nothing of the abandoned write was committed")
        _ = try await blocker.execute("ROLLBACK")
        #expect(try await f.rowCounts().rows == 300, "and none of it was stored")

        try await aRestartedWorkerStoresEveryEventOnce(f, total: 900)
        try await f.cleanUp(symbols: 6)
    }

    /// The background services (cache status, partition maintenance, the cache link's re-sync) run in one
    /// task group with the consumer loop and end with it. One of their database calls stuck behind a lock
    /// (as with a database that stops answering) must not hold SIGTERM's shutdown open: the worker exits,
    /// cleanly, while the call is still blocked (the lock is released only after the exit).
    @Test func aBackgroundDatabaseCallStuckOnALockDoesNotHoldSigtermOpen() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let p = try f.startWorker(["--metrics-port", "0"])
        try await f.publish(count: 100, symbols: 4)
        try await f.waitUntil("the first 100 stored and committed") { try await f.stored(100) }
        let blocker = try await PostgresConnection.connect(f.database.configuration)
        _ = try await blocker.execute("BEGIN; LOCK TABLE guardian_cache_status IN ACCESS EXCLUSIVE MODE")
        let db = try await PostgresConnection.connect(f.database.configuration)
        try await f.waitUntil("the cache status report waits on the lock") {
            try await db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").scalar != "0"
        }
        p.signal(SIGTERM)
        // 45 s: under the 60 s statement_timeout that would otherwise end the blocked call.
        let r = try await p.wait(timeout: .seconds(45))
        let stillBlocked = try await db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").scalar
        #expect(!r.timedOut && r.status == 0, "exited cleanly while its background call was blocked: exit \(r.status), \(r.stderr.suffix(1500))")
        #expect(stillBlocked != "0", "the blocked call was still waiting on the lock when the worker exited")
        _ = try await blocker.execute("ROLLBACK")
        #expect(try await committedTotal(f) == 100, "what was durable was committed")
        try await f.cleanUp(symbols: 4)
    }

    /// Issue 10, what was seen: against a Redis with a password the worker logged "connected", then
    /// failed every update with NOAUTH in a loop. Now a refused password is a clear configuration error
    /// naming the address and the setting; the worker keeps persisting (Redis is best-effort) and
    /// /readyz shows it. At debug level, no secret it was given appears in its log.
    @Test func aRefusedRedisPasswordIsSaidClearlyPersistenceGoesOnAndNoSecretIsLogged() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let redisSecret = "redis-\(UInt64.random(in: 0...UInt64.max))"
        let saslSecret = "sasl-\(UInt64.random(in: 0...UInt64.max))"
        let pgPassword = try #require(URLComponents(string: f.database.uri)?.password)
        let (p, port) = try await f.startServingWorker(["--log-level", "debug", "--kafka", "sasl.password=\(saslSecret)"],
                                                       environment: ["REDIS_PASSWORD": redisSecret])
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
        p.signal(SIGTERM)
        let r = try await p.wait(timeout: .seconds(90))
        #expect(!r.timedOut && r.status == 0)
        let text = r.stdout + r.stderr
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

/// What the README promises of a worker's `/metrics`.
@Suite struct WorkerMetricsDocumentationTests {
    /// The metric names the README lists for a worker's `/metrics`.
    static func documentedNames() throws -> [String] {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "- `/metrics`"), "README: the worker's /metrics list")
        let end = try #require(text.range(of: "- `/healthz`", range: start.upperBound..<text.endIndex))
        let list = text[start.upperBound..<end.lowerBound]
        let names = list.matches(of: /`(guardian_[a-z_]+)/).map { String($0.output.1) }
        return Array(Set(names)).sorted()
    }

    /// Every metric the README lists is served by a running worker, each with help text: read from
    /// `/metrics`, and checked by `promtool check metrics` (Debian's prometheus, installed by `make deps`).
    @Test func everyDocumentedMetricIsServedWithHelpText() async throws {
        let names = try Self.documentedNames()
        #expect(names.count >= 20, "the README's list was found: \(names)")
        let f = try await WorkerFixture.make(partitions: 2)
        let (p, port) = try await f.startServingWorker([])
        try await f.publish(count: 200, symbols: 4, invalid: 3)
        var body = ""
        var missing: [String] = names
        // The lag gauge is sampled every 5 s; committed offsets appear after the first commit.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let (data, _) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!) {
                body = String(decoding: data, as: UTF8.self)
                missing = names.filter { !body.contains("# TYPE \($0) ") }
                if missing.isEmpty { break }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(missing.isEmpty, "documented but not served: \(missing)")
        for name in names {
            #expect(body.contains("# HELP \(name) "), "no help text for \(name)")
        }
        let promtool = "/usr/bin/promtool"
        try #require(FileManager.default.isExecutableFile(atPath: promtool), "promtool (Debian's prometheus) is installed by make deps")
        let check = Process()
        check.executableURL = URL(fileURLWithPath: promtool)
        check.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        check.standardInput = input
        check.standardOutput = output
        check.standardError = output
        try check.run()
        input.fileHandleForWriting.write(Data(body.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        let noHelp = report.split(separator: "\n").filter { $0.contains("no help text") && $0.contains("guardian_") }
        #expect(noHelp.isEmpty, "promtool: \(noHelp)")
        p.signal(SIGTERM)
        _ = try await p.wait(timeout: .seconds(60))
        try await f.cleanUp(symbols: 4)
    }
}

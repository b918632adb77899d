import Foundation
import GuardianRedis
import GuardianTestSupport
import Testing

/// hiredis wrapper against the stack's Redis: pipelines, Lua scripts by SHA, errors.
@Suite struct RedisTests {
    let configuration: RedisConfiguration

    init() throws {
        configuration = RedisConfiguration(host: try StackEnvironment.shared.redisHost, port: try StackEnvironment.shared.redisPort)
    }

    @Test func pipelinedBatchRoundTrip() async throws {
        let redis = try await RedisConnection.connect(configuration)
        let prefix = uniqueName("pipe")
        var commands: [[String]] = []
        for i in 0..<1000 {
            commands.append(["HSET", "\(prefix):\(i % 100)", "seq", "\(i)", "kind", "order_check"])
            commands.append(["SADD", "\(prefix):set", "\(i % 100)"])
        }
        let replies = try await redis.pipeline(commands)
        #expect(replies.count == 2000)
        #expect(replies.allSatisfy { if case .integer = $0 { return true } else { return false } })

        let reads = try await redis.pipeline((0..<100).map { ["HGET", "\(prefix):\($0)", "seq"] } + [["SCARD", "\(prefix):set"]])
        #expect(reads.dropLast().enumerated().allSatisfy { i, v in v.string == "\(900 + i)" })
        #expect(reads.last?.integer == 100)

        // An error reply stays in place and does not break the pipeline.
        let mixed = try await redis.pipeline([["SET", "\(prefix):s", "x"], ["HGET", "\(prefix):s", "f"], ["GET", "\(prefix):s"]])
        #expect(mixed[0] == .status("OK"))
        if case .error(let text) = mixed[1] { #expect(text.hasPrefix("WRONGTYPE")) } else { Issue.record("expected WRONGTYPE, got \(mixed[1])") }
        #expect(mixed[2].string == "x")
        await #expect(throws: RedisError.self) { try await redis.command(["HGET", "\(prefix):s", "f"]) }
        try await redis.command(["DEL", "\(prefix):s", "\(prefix):set"] + (0..<100).map { "\(prefix):\($0)" })
    }

    @Test func luaScriptRunsBySHAAndReloadsAfterAFlush() async throws {
        let redis = try await RedisConnection.connect(configuration)
        let key = uniqueName("lua")
        // Set the field only when the new seq is higher: the shape of the cache update to come.
        let script = RedisScript("""
            local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
            if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'seq', ARGV[1]); return 1 end
            return 0
            """)
        #expect(try await redis.evalScript(script, keys: [key], arguments: ["5"]).integer == 1)
        #expect(try await redis.evalScript(script, keys: [key], arguments: ["3"]).integer == 0)
        try await redis.command(["SCRIPT", "FLUSH"])
        #expect(try await redis.evalScript(script, keys: [key], arguments: ["9"]).integer == 1)
        #expect(try await redis.command(["HGET", key, "seq"]).string == "9")
        let failing = RedisScript("return redis.error_reply('guardian test failure')")
        let error = await #expect(throws: RedisError.self) { try await redis.evalScript(failing, keys: [], arguments: []) }
        #expect(error?.message.contains("guardian test failure") == true)
        try await redis.command(["DEL", key])
    }

    @Test func wrongPortIsRefused() async throws {
        let port = try closedLoopbackPort()
        let error = await #expect(throws: RedisError.self) {
            _ = try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: port))
        }
        #expect(error?.kind == .connect)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        await #expect(throws: RedisError.self) { _ = try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: 70000)) }
    }

    @Test func silentServerTimesOutWithinTheCommandTimeout() async throws {
        let silent = try SilentServer()
        let redis = try await RedisConnection.connect(
            RedisConfiguration(host: "127.0.0.1", port: silent.port, commandTimeout: .milliseconds(500)))
        let start = ContinuousClock.now
        let error = await #expect(throws: RedisError.self) { try await redis.command(["PING"]) }
        #expect(error?.isConnectionFailure == true)
        #expect(ContinuousClock.now - start < .seconds(5))
        // The connection is dead afterwards and says so.
        let again = await #expect(throws: RedisError.self) { try await redis.command(["PING"]) }
        #expect(again?.kind == .closed)
    }
}

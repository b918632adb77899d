import Foundation
import GuardianRedis
import GuardianTestSupport
import Testing

/// hiredis wrapper against the stack's Redis: pipelines, Lua scripts by SHA, errors.
@Suite struct RedisTests {
    let configuration: RedisConfiguration

    init() throws {
        configuration = RedisConfiguration(host: try StackEnvironment.shared.redisHost, port: try StackEnvironment.shared.redisPort,
                                           password: try StackEnvironment.shared.redisPassword)
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

    /// On a Redis of its own: SCRIPT FLUSH on the shared one would pull scripts from under other tests' workers.
    @Test func luaScriptRunsBySHAAndReloadsAfterAFlush() async throws {
        let server = try await PrivateRedis()
        let redis = try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: server.port))
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
        // Connecting checks the server answers (AUTH, or PING without a password): a silent one fails
        // there, within the command timeout.
        let outcome = try await finishes(within: .seconds(120)) {
            do {
                _ = try await RedisConnection.connect(RedisConfiguration(host: "127.0.0.1", port: silent.port, commandTimeout: .milliseconds(500)))
                return RedisError?.none
            } catch let e as RedisError { return e }
        }
        let error = try #require(outcome, "connecting to a silent server was still hanging after 120 s")
        #expect(error?.isConnectionFailure == true, "\(String(describing: error))")
    }

    /// The stack's Redis wants a password (requirepass): without one, or with a wrong one, connecting
    /// fails at once with a message that names the address and the settings, never the password.
    @Test func credentialsAreCheckedWhenConnectingAndNeverEchoed() async throws {
        let env = StackEnvironment.shared
        let host = try env.redisHost, port = try env.redisPort
        let none = await #expect(throws: RedisError.self) { _ = try await RedisConnection.connect(RedisConfiguration(host: host, port: port)) }
        #expect(none?.kind == .auth && none?.message.contains("REDIS_PASSWORD") == true && none?.message.contains("\(host):\(port)") == true, "\(String(describing: none))")
        let secret = "wrong-\(UInt32.random(in: 0...UInt32.max))"
        let wrong = await #expect(throws: RedisError.self) {
            _ = try await RedisConnection.connect(RedisConfiguration(host: host, port: port, password: secret))
        }
        #expect(wrong?.kind == .auth && wrong?.message.contains("WRONGPASS") == true, "\(String(describing: wrong))")
        #expect(wrong.map { !"\($0)".contains(secret) } == true, "the password is never in the message")
        // REDIS_DB selects the database on every connect.
        let redis = try await RedisConnection.connect(configuration)
        let db3 = try await RedisConnection.connect(RedisConfiguration(host: host, port: port, password: try env.redisPassword, database: 3))
        let key = uniqueName("guardian:test:db")
        try await db3.command(["SET", key, "x"])
        #expect(try await redis.command(["EXISTS", key]).integer == 0, "not in database 0")
        #expect(try await db3.command(["EXISTS", key]).integer == 1)
        try await db3.command(["DEL", key])
    }

    /// An ACL user allowed only the commands a worker uses, on `guardian:*` keys, is enough for the
    /// state cache; anything else is refused.
    @Test func anACLUserLimitedToTheWorkersCommandsRunsTheStateCache() async throws {
        let env = StackEnvironment.shared
        let redis = try await RedisConnection.connect(configuration)
        let user = uniqueName("gw"), password = uniqueName("pw")
        try await redis.command(["ACL", "SETUSER", user, "reset", "on", ">\(password)", "~guardian:*",
                                 "+ping", "+select", "+evalsha", "+script|load", "+sadd", "+scard", "+hget", "+hset", "+hdel"])
        let limited = try await RedisConnection.connect(
            RedisConfiguration(host: try env.redisHost, port: try env.redisPort, username: user, password: password))
        let script = RedisScript("redis.call('HSET', KEYS[1], 'seq', ARGV[1]); return redis.call('HGET', KEYS[1], 'seq')")
        let key = "guardian:state:\(uniqueName("ACL"))"
        #expect(try await limited.evalScript(script, keys: [key], arguments: ["7"]).string == "7")
        try await limited.command(["SADD", "guardian:symbols:acl-test", "X"])
        await #expect(throws: RedisError.self) { try await limited.command(["CONFIG", "GET", "maxmemory"]) }
        await #expect(throws: RedisError.self) { try await limited.command(["HSET", "other:key", "a", "1"]) }
        try await redis.command(["DEL", key, "guardian:symbols:acl-test"])
        let wrong = await #expect(throws: RedisError.self) {
            _ = try await RedisConnection.connect(RedisConfiguration(host: try env.redisHost, port: try env.redisPort, username: user, password: "nope"))
        }
        #expect(wrong?.message.contains("user '\(user)'") == true, "names the user: \(String(describing: wrong))")
        try await redis.command(["ACL", "DELUSER", user])
    }
}

import CHiredis
import Foundation
import GuardianSupport
import Synchronization

/// One hiredis connection with its own dedicated thread (hiredis calls block), never the cooperative pool.
///
/// `pipeline` sends many commands in one round trip; `evalScript` runs Lua by SHA, loading it on demand.
/// After an I/O error the connection is unusable: open a new one.
public final class RedisConnection: Sendable {
    /// Owns the `redisContext*` and frees it when released.
    private final class Handle: @unchecked Sendable {
        let context: UnsafeMutablePointer<redisContext>
        init(_ context: UnsafeMutablePointer<redisContext>) { self.context = context }
        deinit { redisFree(context) }

        /// The context's error text (hiredis keeps the first error; the context is dead after it).
        var errorText: String? {
            guard context.pointee.err != 0 else { return nil }
            return withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
    }

    private let handle: Handle
    private let thread: DedicatedThread
    public let configuration: RedisConfiguration

    private init(handle: Handle, thread: DedicatedThread, configuration: RedisConfiguration) {
        self.handle = handle
        self.thread = thread
        self.configuration = configuration
    }

    deinit { thread.shutdown() }

    /// Connects within `configuration.connectTimeout`; fails with `connect` when the server is unreachable.
    public static func connect(_ configuration: RedisConfiguration = RedisConfiguration()) async throws -> RedisConnection {
        let thread = DedicatedThread(name: "redis")
        do {
            return try await thread.run {
                guard (1...65535).contains(configuration.port) else {
                    throw RedisError(.connect, "REDIS_PORT \(configuration.port) is not a TCP port (1-65535)")
                }
                guard let ctx = redisConnectWithTimeout(configuration.host, Int32(configuration.port), timeval(configuration.connectTimeout)) else {
                    throw RedisError(.connect, "hiredis could not allocate a connection")
                }
                let handle = Handle(ctx)
                if let text = handle.errorText {
                    throw RedisError(.connect, "cannot connect to Redis at \(configuration.address): \(text)")
                }
                if redisSetTimeout(ctx, timeval(configuration.commandTimeout)) != REDIS_OK {
                    throw RedisError(.connect, "cannot set the command timeout: \(handle.errorText ?? "unknown error")")
                }
                _ = redisEnableKeepAlive(ctx)
                try authenticate(handle, configuration)
                return RedisConnection(handle: handle, thread: thread, configuration: configuration)
            }
        } catch {
            thread.shutdown()
            throw error
        }
    }

    /// AUTH (when a password is set) and SELECT (when the database is not 0), or a PING that finds out
    /// whether the server wants credentials: a connection is never handed out unauthenticated. The
    /// messages name the user, the address and the settings, never the password.
    private static func authenticate(_ handle: Handle, _ c: RedisConfiguration) throws(RedisError) {
        var commands: [[[UInt8]]] = []
        if let password = c.password {
            commands.append((["AUTH"] + (c.username.map { [$0] } ?? []) + [password]).map { Array($0.utf8) })
        } else {
            commands.append([Array("PING".utf8)])
        }
        if c.database != 0 { commands.append(["SELECT", String(c.database)].map { Array($0.utf8) }) }
        let replies = try pipelineSync(handle, commands, address: c.address)
        if case .error(let text) = replies[0] {
            if c.password == nil {
                throw RedisError(.auth, "Redis at \(c.address) wants a password (\(text)): set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user), or --redis-password-file")
            }
            let reason = text.split(separator: " ").first.map(String.init) ?? text
            throw RedisError(.auth, "Redis refused the credentials of \(c.username.map { "user '\($0)'" } ?? "the default user") at \(c.address) (\(reason)): check REDIS_USERNAME and REDIS_PASSWORD")
        }
        if c.database != 0, case .error(let text) = replies[1] {
            throw RedisError(.auth, "Redis at \(c.address) refused SELECT \(c.database) (\(text)): check REDIS_DB")
        }
    }

    /// Sends one command and returns its reply; an error reply is thrown as `RedisError.server`.
    @discardableResult
    public func command(_ arguments: [String]) async throws -> RedisValue {
        let reply = try await pipeline([arguments])[0]
        if case .error(let text) = reply { throw RedisError(.server, "\(arguments.first ?? ""): \(text)") }
        return reply
    }

    /// Sends one command built from raw byte arguments.
    @discardableResult
    public func command(bytes arguments: [[UInt8]]) async throws -> RedisValue {
        let reply = try await pipeline(bytes: [arguments])[0]
        if case .error(let text) = reply { throw RedisError(.server, text) }
        return reply
    }

    /// Sends all `commands` in one round trip and returns their replies in order. Error replies are
    /// returned in place (`.error`); only a connection failure throws.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        try await pipeline(bytes: commands.map { $0.map { Array($0.utf8) } })
    }

    /// `pipeline` with raw byte arguments.
    public func pipeline(bytes commands: [[[UInt8]]]) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        let handle = self.handle
        let address = configuration.address
        return try await thread.run {
            try Self.pipelineSync(handle, commands, address: address)
        }
    }

    private static func pipelineSync(_ handle: Handle, _ commands: [[[UInt8]]], address: String) throws(RedisError) -> [RedisValue] {
        let ctx = handle.context
        if let text = handle.errorText { throw RedisError(.closed, "the connection to \(address) failed earlier: \(text)") }
        for args in commands {
            guard !args.isEmpty else { throw RedisError(.unexpectedReply, "empty command in pipeline") }
            let rc = appendCommand(ctx, args)
            if rc != REDIS_OK { throw RedisError(.io, "sending to Redis at \(address): \(handle.errorText ?? "unknown error")") }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil {
                throw RedisError(.io, "reading from Redis at \(address): \(handle.errorText ?? "no reply")")
            }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private static func appendCommand(_ ctx: UnsafeMutablePointer<redisContext>, _ args: [[UInt8]]) -> Int32 {
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(args.count)
        lengths.reserveCapacity(args.count)
        // One contiguous buffer for all arguments keeps their addresses valid for the call.
        let total = args.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: max(total, 1))
        defer { storage.deallocate() }
        var offset = 0
        for a in args {
            a.withUnsafeBufferPointer { src in
                if let base = src.baseAddress {
                    (storage + offset).withMemoryRebound(to: UInt8.self, capacity: a.count) { $0.update(from: base, count: a.count) }
                }
            }
            pointers.append(UnsafePointer(storage + offset))
            lengths.append(a.count)
            offset += a.count
        }
        return pointers.withUnsafeMutableBufferPointer { p in
            lengths.withUnsafeBufferPointer { l in
                redisAppendCommandArgv(ctx, Int32(args.count), p.baseAddress, l.baseAddress)
            }
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch Int32(r.type) {
        case REDIS_REPLY_STRING:
            return .string(r.str.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(r.len))) } ?? [])
        case REDIS_REPLY_STATUS:
            return .status(r.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(r.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(r.elements)).map { convert(r.element[$0]!) })
        default:
            return .null
        }
    }

    /// Runs `script` with EVALSHA, loading it with SCRIPT LOAD the first time (or after the server
    /// lost its script cache, e.g. a restart). An error reply from the script is thrown.
    @discardableResult
    public func evalScript(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisValue {
        let sha: String
        if let cached = script.sha {
            sha = cached
        } else {
            sha = try await load(script)
        }
        var current = sha
        // NOSCRIPT: the server lost its script cache (a restart, SCRIPT FLUSH): load and run again. A few
        // times, as another client may flush again in between.
        for attempt in 1...3 {
            let reply = try await pipeline([["EVALSHA", current, String(keys.count)] + keys + arguments])[0]
            guard case .error(let text) = reply else { return reply }
            guard text.hasPrefix("NOSCRIPT"), attempt < 3 else { throw RedisError(.server, "script \(current.prefix(12)): \(text)") }
            current = try await load(script)
        }
        throw RedisError(.server, "script \(current.prefix(12)): not loaded")
    }

    /// The script's SHA, loading it with SCRIPT LOAD when not known yet (or when `reload`), for callers
    /// that batch EVALSHA calls into a pipeline themselves.
    public func scriptSHA(_ script: RedisScript, reload: Bool = false) async throws -> String {
        if !reload, let sha = script.sha { return sha }
        return try await load(script)
    }

    private func load(_ script: RedisScript) async throws -> String {
        guard let sha = try await command(["SCRIPT", "LOAD", script.source]).string else {
            throw RedisError(.unexpectedReply, "SCRIPT LOAD did not return a SHA")
        }
        script.remember(sha: sha)
        return sha
    }
}

/// A Lua script run by SHA; the SHA is learnt from SCRIPT LOAD and cached.
public final class RedisScript: Sendable {
    public let source: String
    private let cachedSHA = Mutex<String?>(nil)

    public init(_ source: String) { self.source = source }

    var sha: String? { cachedSHA.withLock { $0 } }
    func remember(sha: String) { cachedSHA.withLock { $0 = sha } }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}

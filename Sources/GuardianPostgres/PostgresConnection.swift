import CLibPQ
import Foundation
import GuardianSupport
import Synchronization

/// One libpq connection with its own dedicated thread: every libpq call (all of them block)
/// runs there, in submission order, never on Swift's cooperative pool.
///
/// Use `withSession` or `transaction` to run several statements back to back without other
/// callers interleaving; the single-statement helpers (`execute`, `query`, `copyIn`) do that for one.
public final class PostgresConnection: Sendable {
    /// Owns the `PGconn*` and closes it with `PQfinish` when released.
    private final class Handle: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { PQfinish(pointer) }
    }

    private let handle: Handle
    private let thread: DedicatedThread
    /// Set once a cancelled caller stopped waiting for a call (`abandonsCallsOnCancellation`).
    private let abandoned = Atomic<Bool>(false)
    /// The configuration this connection was opened with.
    public let configuration: PostgresConfiguration

    private init(handle: Handle, thread: DedicatedThread, configuration: PostgresConfiguration) {
        self.handle = handle
        self.thread = thread
        self.configuration = configuration
    }

    deinit {
        // Let queued work finish; the handle (and PQfinish) goes with the last job that holds it.
        thread.shutdown()
    }

    /// Opens a connection. Fails with `invalidURI` for a malformed URI, and with `connect` (within
    /// `connectTimeoutSeconds`) when the server is unreachable, refuses, or rejects the login.
    public static func connect(_ configuration: PostgresConfiguration = PostgresConfiguration()) async throws -> PostgresConnection {
        let thread = DedicatedThread(name: "postgres")
        do {
            let open = { @Sendable () throws -> PostgresConnection in
                let handle = Handle(try openSync(configuration))
                return PostgresConnection(handle: handle, thread: thread, configuration: configuration)
            }
            return try await configuration.abandonsCallsOnCancellation ? thread.runAbandoningOnCancel(open) : thread.run(open)
        } catch {
            thread.shutdown()
            throw error
        }
    }

    private static func openSync(_ configuration: PostgresConfiguration) throws(PostgresError) -> OpaquePointer {
        var errmsg: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(configuration.uri, &errmsg) else {
            let text = errmsg.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unparseable"
            if let errmsg { PQfreemem(errmsg) }
            throw PostgresError(.invalidURI, "TIMESCALEDB_URI '\(configuration.redactedURI)' is not a valid PostgreSQL URI: \(text)")
        }
        PQconninfoFree(options)
        // Keywords are applied in order and the expanded URI comes last, so its own settings win.
        let keywords = configuration.connectionKeywords.map(\.0) + ["dbname"]
        let values = configuration.connectionKeywords.map(\.1) + [configuration.uri]
        let kw = keywords.map { strdup($0) } + [nil]
        let vs = values.map { strdup($0) } + [nil]
        defer { (kw + vs).forEach { free($0) } }
        let conn = kw.withUnsafeBufferPointer { k in
            vs.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: UnsafePointer<CChar>?.self) { k2 in
                    v.withMemoryRebound(to: UnsafePointer<CChar>?.self) { v2 in
                        PQconnectdbParams(k2.baseAddress, v2.baseAddress, 1)
                    }
                }
            }
        }
        guard let conn else { throw PostgresError(.connect, "libpq could not allocate a connection") }
        if PQstatus(conn) != CONNECTION_OK {
            let text = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            // libpq reports option errors it finds only while connecting ("invalid URI query parameter", …).
            if text.hasPrefix("invalid ") || text.hasPrefix("missing ") {
                throw PostgresError(.invalidURI, "TIMESCALEDB_URI '\(configuration.redactedURI)' is not valid: \(text)")
            }
            throw PostgresError(.connect, "cannot connect to \(configuration.redactedURI): \(text)")
        }
        // Server notices ("relation already exists, skipping", …) would go to stderr; they are not errors.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        return conn
    }

    /// Runs `body` with exclusive, synchronous use of the connection on its thread.
    public func withSession<T: Sendable>(_ body: @escaping @Sendable (borrowing PostgresSession) throws -> T) async throws -> T {
        let handle = self.handle
        let uri = configuration.redactedURI
        let call = { @Sendable () throws -> T in
            let conn = handle.pointer
            guard PQstatus(conn) == CONNECTION_OK else {
                throw PostgresError(.closed, "the connection to \(uri) is broken: \(String(cString: PQerrorMessage(conn)))")
            }
            return try body(PostgresSession(conn: conn))
        }
        guard configuration.abandonsCallsOnCancellation else { return try await thread.run(call) }
        guard !abandoned.load(ordering: .relaxed) else {
            throw PostgresError(.closed, "the connection to \(uri) was given up while a call was under way (the task was cancelled)")
        }
        do {
            return try await thread.runAbandoningOnCancel(call)
        } catch is CancellationError {
            abandoned.store(true, ordering: .relaxed)
            throw CancellationError()
        }
    }

    /// Runs `body` inside BEGIN … COMMIT; rolls back and rethrows when it throws.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (borrowing PostgresSession) throws -> T) async throws -> T {
        try await withSession { session in
            try session.execute("BEGIN")
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                if PQstatus(session.conn) == CONNECTION_OK { _ = try? session.execute("ROLLBACK") }
                throw error
            }
        }
    }

    /// Runs SQL without parameters (one or more statements).
    @discardableResult
    public func execute(_ sql: String) async throws -> PostgresResult {
        try await withSession { try $0.execute(sql) }
    }

    /// Runs one statement with `$n` text parameters.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PostgresResult {
        try await withSession { try $0.query(sql, parameters) }
    }

    /// Runs `COPY … FROM STDIN` with `data`; returns the rows copied.
    @discardableResult
    public func copyIn(_ sql: String, data: [UInt8]) async throws -> Int {
        try await withSession { try $0.copyIn(sql, data: data) }
    }

    /// True while libpq considers the connection usable.
    public var isHealthy: Bool {
        get async { (try? await thread.run { [handle] in PQstatus(handle.pointer) == CONNECTION_OK }) ?? false }
    }
}

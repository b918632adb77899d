import CLibPQ
import Foundation

/// Synchronous access to one libpq connection, valid only inside `PostgresConnection.withSession`
/// (or `transaction`), on the connection's dedicated thread.
public struct PostgresSession: ~Copyable {
    let conn: OpaquePointer

    /// Runs one or more SQL statements without parameters; returns the last statement's result.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> PostgresResult {
        try consume(PQexec(conn, sql), sql: sql)
    }

    /// Runs one statement with `$1, $2, …` parameters sent separately as text (no quoting needed).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?]) throws(PostgresError) -> PostgresResult {
        // Keep C strings alive for the call.
        let cStrings: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { cStrings.forEach { free($0) } }
        let res = cStrings.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQexecParams(conn, sql, Int32(parameters.count), nil, values.baseAddress, nil, nil, 0)
            }
        }
        return try consume(res, sql: sql)
    }

    /// Runs `COPY … FROM STDIN` and streams `data` (already in the COPY format the statement names,
    /// e.g. binary from `PostgresBinaryCopyWriter`). Returns the number of rows copied.
    @discardableResult
    public func copyIn(_ sql: String, data: [UInt8]) throws(PostgresError) -> Int {
        let start = PQexec(conn, sql)
        let status = PQresultStatus(start)
        if status != PGRES_COPY_IN {
            _ = try consume(start, sql: sql)  // throws the server's error
            throw PostgresError(.copy, "'\(sql.prefix(80))' is not a COPY FROM STDIN statement")
        }
        PQclear(start)
        let chunk = 1 << 20
        var offset = 0
        var sendError: String?
        data.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = min(chunk, raw.count - offset)
                let rc = PQputCopyData(conn, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(n))
                if rc != 1 { sendError = lastError(); return }
                offset += n
            }
        }
        if PQputCopyEnd(conn, sendError) != 1 {
            throw PostgresError(connectionKind(.copy), "COPY could not be finished: \(lastError())")
        }
        // Collect the final result(s): the COPY's own, then NULL.
        var result = PostgresResult()
        var failure: PostgresError?
        while let res = PQgetResult(conn) {
            do throws(PostgresError) { result = try consume(res, sql: sql) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        if let sendError { throw PostgresError(connectionKind(.copy), "COPY data could not be sent: \(sendError)") }
        return result.affectedRows
    }

    /// A notification of `LISTEN`: its channel and payload.
    public struct Notification: Sendable, Equatable {
        public var channel: String
        public var payload: String
    }

    /// Notifications of the channels this session `LISTEN`s to: those already received, else the first to
    /// arrive within `timeout` (then with any that came with it). Empty when none came in time. Blocks the
    /// connection's thread for up to `timeout`: for a connection that only listens.
    public func notifications(waitingUpTo timeout: Duration) throws(PostgresError) -> [Notification] {
        var out = drainNotifications()
        if !out.isEmpty { return out }
        var fd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        let ms = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&fd, 1, ms)
        if ready < 0 && errno != EINTR { throw PostgresError(.closed, "waiting for notifications failed: errno \(errno)") }
        if ready > 0 {
            guard PQconsumeInput(conn) == 1 else {
                throw PostgresError(connectionKind(.closed), "the listening connection broke: \(lastError())")
            }
            out = drainNotifications()
        }
        return out
    }

    private func drainNotifications() -> [Notification] {
        var out: [Notification] = []
        while let n = PQnotifies(conn) {
            out.append(Notification(channel: String(cString: n.pointee.relname), payload: String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }

    /// Whether the connection is inside a transaction block.
    public var inTransaction: Bool {
        let s = PQtransactionStatus(conn)
        return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE
    }

    /// `.closed` when the connection itself broke (so the caller retries on a new one), else `kind`.
    private func connectionKind(_ kind: PostgresError.Kind) -> PostgresError.Kind {
        PQstatus(conn) == CONNECTION_BAD ? .closed : kind
    }

    func lastError() -> String {
        String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Turns a PGresult into a `PostgresResult` or an error, and frees it.
    private func consume(_ res: OpaquePointer?, sql: String) throws(PostgresError) -> PostgresResult {
        guard let res else {
            throw PostgresError(.closed, "no result from the server: \(lastError())")
        }
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(affectedRows: Self.affected(res))
        case PGRES_TUPLES_OK:
            let nCols = Int(PQnfields(res))
            let nRows = Int(PQntuples(res))
            let columns = (0..<nCols).map { String(cString: PQfname(res, Int32($0))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(nRows)
            for r in 0..<Int32(nRows) {
                rows.append((0..<Int32(nCols)).map { c in
                    PQgetisnull(res, r, c) == 1 ? nil : String(cString: PQgetvalue(res, r, c))
                })
            }
            return PostgresResult(columns: columns, rows: rows, affectedRows: Self.affected(res))
        default:
            let sqlState = PQresultErrorField(res, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            var text = String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { text = lastError() }
            let kind = connectionKind(.query)
            throw PostgresError(kind, "\(text) (in: \(sql.prefix(120)))", sqlState: sqlState)
        }
    }

    private static func affected(_ res: OpaquePointer) -> Int {
        Int(String(cString: PQcmdTuples(res))) ?? 0
    }
}

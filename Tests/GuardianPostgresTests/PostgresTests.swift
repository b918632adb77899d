import Foundation
import GuardianPostgres
import GuardianTestSupport
import Testing

/// libpq wrapper against the stack's PostgreSQL: COPY, parameters, transactions, errors.
@Suite struct PostgresTests {
    let configuration: PostgresConfiguration

    init() throws {
        configuration = PostgresConfiguration(uri: try StackEnvironment.shared.postgresURI)
    }

    @Test func binaryCopyOfTenThousandRowsReadsBackExactly() async throws {
        let db = try await PostgresConnection.connect(configuration)
        let table = uniqueName("copy").replacingOccurrences(of: "-", with: "_")
        try await db.execute("""
            CREATE TABLE \(table) (id bigint PRIMARY KEY, symbol text NOT NULL, qty integer, price double precision,
                                   ok boolean, ts timestamptz NOT NULL, attrs jsonb, note text)
            """)
        let baseNs: Int64 = 1_764_000_000_123_456_789  // 2025-11-24T16:00:00.123456789Z
        var writer = PostgresBinaryCopyWriter()
        for i in 0..<10_000 {
            writer.beginRow(fields: 8)
            writer.appendInt64(Int64(i))
            writer.appendText("SYM\(i % 64)")
            if i % 7 == 0 { writer.appendNull() } else { writer.appendInt32(Int32(i)) }
            writer.appendFloat64(Double(i) * 0.25)
            writer.appendBool(i % 2 == 0)
            writer.appendTimestamp(nanosecondsSinceEpoch: baseNs + Int64(i) * 1_000)
            writer.appendJSONB(utf8: Array("{\"n\": \(i), \"s\": \"é\"}".utf8))
            if i % 5 == 0 { writer.appendNull() } else { writer.appendText("note ✓ \(i)") }
        }
        #expect(writer.rowCount == 10_000)
        let copied = try await db.copyIn("COPY \(table) FROM STDIN (FORMAT binary)", data: writer.finish())
        #expect(copied == 10_000)

        let result = try await db.query("""
            SELECT id, symbol, qty, price, ok, (extract(epoch from ts) * 1000000)::bigint, attrs->>'n', attrs->>'s', note
            FROM \(table) ORDER BY id
            """)
        #expect(result.rows.count == 10_000)
        let baseMicros = baseNs / 1000
        for (i, row) in result.rows.enumerated() {
            let expected: [String?] = [
                "\(i)", "SYM\(i % 64)", i % 7 == 0 ? nil : "\(i)", "\(Double(i) * 0.25)".replacingOccurrences(of: ".0", with: ""),
                i % 2 == 0 ? "t" : "f", "\(baseMicros + Int64(i))", "\(i)", "é", i % 5 == 0 ? nil : "note ✓ \(i)",
            ]
            #expect(row == expected, "row \(i)")
            if row != expected { break }
        }
        try await db.execute("DROP TABLE \(table)")
    }

    @Test func parametersTransactionsAndRollback() async throws {
        let db = try await PostgresConnection.connect(configuration)
        let table = uniqueName("tx").replacingOccurrences(of: "-", with: "_")
        try await db.execute("CREATE TABLE \(table) (k text PRIMARY KEY, v text)")
        // Quoting-hostile values go through parameters untouched.
        try await db.query("INSERT INTO \(table) VALUES ($1, $2)", ["it's", nil])
        let committed = try await db.transaction { s in
            try s.query("INSERT INTO \(table) VALUES ($1, $2)", ["a", "1"]).affectedRows
        }
        #expect(committed == 1)
        struct Abort: Error {}
        await #expect(throws: Abort.self) {
            try await db.transaction { s in
                try s.query("INSERT INTO \(table) VALUES ($1, $2)", ["b", "2"])
                throw Abort()
            }
        }
        let rows = try await db.query("SELECT k, v FROM \(table) ORDER BY k").rows
        #expect(rows == [["a", "1"], ["it's", nil]])
        // A failing statement inside a transaction rolls it back and reports the SQLSTATE.
        let error = await #expect(throws: PostgresError.self) {
            try await db.transaction { s in
                try s.query("INSERT INTO \(table) VALUES ($1, $2)", ["c", "3"])
                try s.query("INSERT INTO \(table) VALUES ($1, $2)", ["a", "dup"])
            }
        }
        #expect(error?.sqlState == "23505")
        #expect(try await db.query("SELECT count(*) FROM \(table)").scalar == "2")
        #expect(await db.isHealthy)
        try await db.execute("DROP TABLE \(table)")
    }

    @Test func badCopyDataIsReportedAndTheConnectionStaysUsable() async throws {
        let db = try await PostgresConnection.connect(configuration)
        let table = uniqueName("badcopy").replacingOccurrences(of: "-", with: "_")
        try await db.execute("CREATE TABLE \(table) (id bigint)")
        var writer = PostgresBinaryCopyWriter()
        writer.beginRow(fields: 1)
        writer.appendInt32(1)  // wrong width for bigint
        let error = await #expect(throws: PostgresError.self) {
            try await db.copyIn("COPY \(table) FROM STDIN (FORMAT binary)", data: writer.finish())
        }
        #expect(error?.sqlState != nil)
        #expect(try await db.query("SELECT count(*) FROM \(table)").scalar == "0")
        try await db.execute("DROP TABLE \(table)")
    }

    @Test func malformedURIIsRejectedBeforeConnecting() async throws {
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(PostgresConfiguration(uri: "postgresql://guardian:secret@127.0.0.1:notaport/db"))
        }
        #expect(error?.kind == .invalidURI)
        #expect(error?.message.contains("secret") == false, "the password is redacted")
        let bogus = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(PostgresConfiguration(uri: "postgresql://x?nosuchoption=1"))
        }
        #expect(bogus?.kind == .invalidURI)
    }

    @Test func wrongPortIsRefusedNamingThePort() async throws {
        let port = try closedLoopbackPort()
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(PostgresConfiguration(uri: "postgresql://guardian@127.0.0.1:\(port)/guardian"))
        }
        #expect(error?.kind == .connect)
        #expect(error?.message.contains("\(port)") == true)
    }

    @Test func silentHostTimesOutWithinTheConnectTimeout() async throws {
        let silent = try SilentServer()
        let start = ContinuousClock.now
        // The connect timeout ends the attempt: it fails (never hangs; 120 s bounds a hang, not speed)
        // and only after having waited for the server.
        let outcome = try await finishes(within: .seconds(120)) {
            do {
                _ = try await PostgresConnection.connect(
                    PostgresConfiguration(uri: "postgresql://guardian@127.0.0.1:\(silent.port)/guardian", connectTimeoutSeconds: 2))
                return PostgresError?.none
            } catch let e as PostgresError { return e }
        }
        let elapsed = ContinuousClock.now - start
        let error = try #require(outcome, "the connect attempt was still hanging after 120 s")
        #expect(error?.kind == .connect, "\(String(describing: error))")
        #expect(elapsed >= .seconds(1), "it waited for the silent server: \(elapsed)")
    }

    @Test func unknownDatabaseNamesTheDatabase() async throws {
        let uri = try StackEnvironment.shared.postgresURI
        let wrong = uri.split(separator: "/").dropLast().joined(separator: "/") + "/no_such_db"
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(PostgresConfiguration(uri: wrong))
        }
        #expect(error?.message.contains("no_such_db") == true)
    }

    /// No statement hangs a worker: the server cancels it after `statementTimeout` (57014), an error
    /// the worker retries.
    @Test func aStatementPastTheTimeoutIsCancelledAsTransient() async throws {
        var c = configuration
        c.statementTimeout = .milliseconds(300)
        let db = try await PostgresConnection.connect(c)
        let error = await #expect(throws: PostgresError.self) { try await db.execute("SELECT pg_sleep(30)") }
        #expect(error?.sqlState == "57014" && error?.isTransient == true && error?.isDataError == false)
        #expect(try await db.query("SHOW statement_timeout").scalar == "300ms", "the connection stays usable")
    }

    @Test func redactsPasswords() {
        #expect(PostgresConfiguration(uri: "postgresql://u:pw@h:5432/d").redactedURI == "postgresql://u:***@h:5432/d")
        #expect(PostgresConfiguration(uri: "postgresql://u@h/d").redactedURI == "postgresql://u@h/d")
        #expect(PostgresConfiguration(uri: "host=h password=pw").redactedURI == "host=h password=***")
    }
}

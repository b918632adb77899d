import Foundation
import GuardianKafka
import GuardianPostgres
import GuardianRedis
import GuardianStores
import GuardianTestSupport
import GuardianWorker
import Logging
import Testing

/// Credentials and encryption as production deploys them: Kafka security properties from a file or
/// the environment, PostgreSQL over TLS verified against a CA, passwords from libpq's own sources, and
/// a worker that runs with only the rights it needs.
@Suite struct SecurityTests {
    @Test func kafkaPropertiesFromTheEnvironmentAndFromAFileReachLibrdkafka() async throws {
        let f = try await WorkerFixture.make(partitions: 1)
        let secret = "sasl-\(UInt64.random(in: 0...UInt64.max))"
        let security = ["KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN",
                        "KAFKA_SASL_USERNAME": "guardian", "KAFKA_SASL_PASSWORD": secret]
        // The dev broker speaks no SASL: the client's attempt shows the settings arrived.
        let fromEnv = try await f.guardian(["lag", "--samples", "1"], environment: security, timeout: .seconds(60))
        #expect(fromEnv.status != 0)
        #expect(fromEnv.stderr.contains("SASL"), "\(fromEnv.stderr)")
        #expect(!fromEnv.stderr.contains(secret) && !fromEnv.stdout.contains(secret))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("client.properties"))
        defer { try? FileManager.default.removeItem(at: file) }
        try """
            # as a Kubernetes Secret would be mounted
            security.protocol=SASL_PLAINTEXT
            sasl.mechanism=PLAIN
            sasl.username=guardian
            sasl.password=\(secret)
            """.write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try await f.guardian(["lag", "--samples", "1"], environment: ["GUARDIAN_KAFKA_PROPERTIES_FILE": file.path], timeout: .seconds(60))
        #expect(fromFile.status != 0 && fromFile.stderr.contains("required by mechanism PLAIN"), "the file's mechanism: \(fromFile.stderr)")
        #expect(!fromFile.stderr.contains(secret))
        // The variables win over the file: the client asks for the variable's mechanism, never the file's.
        let both = try await f.guardian(["lag", "--samples", "1"],
                                        environment: ["GUARDIAN_KAFKA_PROPERTIES_FILE": file.path, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"],
                                        timeout: .seconds(60))
        #expect(both.status != 0)
        #expect(both.stderr.contains("required by mechanism SCRAM-SHA-512"), "\(both.stderr)")
        #expect(!both.stderr.contains("required by mechanism PLAIN"), "\(both.stderr)")
        // `--help` shows no value taken from a secret variable.
        let help = try await f.guardian(["worker", "--help"], environment: security.merging(["REDIS_PASSWORD": secret]) { $1 })
        #expect(help.status == 0 && !help.stdout.contains(secret))
        try await f.database.drop()
    }

    @Test func postgresOverTLSIsVerifiedAgainstItsCAAndPasswordsNeverShow() async throws {
        let env = StackEnvironment.shared
        let base = try #require(URLComponents(string: try env.postgresURI))
        let password = try #require(base.password)
        func uri(host: String, query: String, password: String? = nil) -> String {
            var c = base
            c.host = host
            if let password { c.password = password }
            c.query = query
            return c.string!
        }
        // verify-full against the stack's CA, by name and by address: the session is encrypted.
        for host in ["localhost", "127.0.0.1"] {
            let db = try await PostgresConnection.connect(PostgresConfiguration(
                uri: uri(host: host, query: "sslmode=verify-full&sslrootcert=\(try env.stackCA)")))
            #expect(try await db.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").scalar == "t", "\(host)")
        }
        // A CA made here never signed the server's certificate: verify-full refuses the server.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("ca"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let openssl = try await ChildProcess.run(
            "/usr/bin/openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other-ca",
             "-keyout", dir.appendingPathComponent("ca.key").path, "-out", dir.appendingPathComponent("ca.crt").path],
            environment: ProcessInfo.processInfo.environment, timeout: .seconds(60))
        #expect(openssl.status == 0, "\(openssl.stderr)")
        let foreign = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(PostgresConfiguration(
                uri: uri(host: "localhost", query: "sslmode=verify-full&sslrootcert=\(dir.appendingPathComponent("ca.crt").path)")))
        }
        #expect(foreign?.message.contains("certificate verify failed") == true, "\(String(describing: foreign))")
        #expect(foreign.map { !"\($0)".contains(password) } == true)
        // A wrong password: refused, and neither password is in the error.
        let wrongSecret = "wrong-\(UInt32.random(in: 0...UInt32.max))"
        let wrong = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(PostgresConfiguration(uri: uri(host: "127.0.0.1", query: "sslmode=require", password: wrongSecret)))
        }
        #expect(wrong?.message.contains("password authentication failed") == true, "\(String(describing: wrong))")
        #expect(wrong.map { !"\($0)".contains(wrongSecret) && !"\($0)".contains(password) } == true)
    }

    @Test func theWorkerRunsAsGuardianWriterWhichCannotChangeTheSchema() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        // libpq's own PGPASSWORD: a URI without a password works for `guardian migrate --create-roles`.
        var bare = try #require(URLComponents(string: f.database.uri))
        let ownerPassword = try #require(bare.password)
        bare.password = nil
        let migrate = try await f.guardian(["migrate", "--create-roles"],
                                           environment: ["TIMESCALEDB_URI": bare.string!, "PGPASSWORD": ownerPassword])
        #expect(migrate.status == 0 && migrate.stdout.contains("guardian_writer"), "\(migrate.stdout)\(migrate.stderr)")
        #expect(!migrate.stdout.contains(ownerPassword) && !migrate.stderr.contains(ownerPassword))

        let owner = try await PostgresConnection.connect(f.database.configuration)
        let login = "gw_\(UInt32.random(in: 0...UInt32.max))", reader = "gr_\(UInt32.random(in: 0...UInt32.max))"
        let secret = "pw\(UInt64.random(in: 0...UInt64.max))"
        try await owner.execute("CREATE ROLE \(login) LOGIN PASSWORD '\(secret)' IN ROLE guardian_writer")
        try await owner.execute("CREATE ROLE \(reader) LOGIN PASSWORD '\(secret)' IN ROLE guardian_reader")
        func as_(_ role: String) -> PostgresConfiguration {
            var c = bare
            c.user = role
            c.password = secret
            return PostgresConfiguration(uri: c.string!)
        }
        var configuration = f.workerConfiguration()
        configuration.postgres = as_(login)
        try await f.publish(count: 600, symbols: 12)
        let worker = Worker(configuration: configuration, logger: Logger(label: "test"))
        try await f.run([worker], until: "stored and committed by guardian_writer") {
            let rows = try await f.rowCounts().rows
            guard rows == 600 else { return false }
            return try await f.caughtUp()
        }
        #expect(worker.statistics.writeRetries == 0, "every write allowed the first time")

        let writer = try await PostgresConnection.connect(as_(login))
        for ddl in ["CREATE TABLE guardian_intruder (a int)", "DROP TABLE guardian_events", "ALTER TABLE guardian_events ADD COLUMN x int",
                    "DELETE FROM guardian_events", "UPDATE guardian_events SET seq = 0", "TRUNCATE guardian_checkpoints"] {
            let refused = await #expect(throws: PostgresError.self, "\(ddl)") { try await writer.execute(ddl) }
            #expect(refused?.sqlState == "42501", "\(ddl): \(String(describing: refused))")
        }
        let analyst = try await PostgresConnection.connect(as_(reader))
        #expect(try await analyst.query("SELECT count(*) FROM guardian_events").scalar == "600")
        let insert = await #expect(throws: PostgresError.self) { try await analyst.execute("DELETE FROM guardian_checkpoints") }
        #expect(insert?.sqlState == "42501")
        try await f.cleanUp(symbols: 12)
        let admin = try await PostgresConnection.connect(PostgresConfiguration(uri: try StackEnvironment.shared.postgresURI))
        try await admin.execute("DROP ROLE IF EXISTS \(login)")
        try await admin.execute("DROP ROLE IF EXISTS \(reader)")
    }

    /// The ACL the README lists is enough for a worker: it keeps every symbol's state in Redis as that user.
    @Test func aWorkerRunsWithARedisACLUserLimitedToItsCommands() async throws {
        let f = try await WorkerFixture.make(partitions: 2)
        let admin = try await RedisConnection.connect(f.redis)
        let user = uniqueName("gw"), password = uniqueName("pw")
        try await admin.command(["ACL", "SETUSER", user, "reset", "on", ">\(password)", "~guardian:*",
                                 "+ping", "+select", "+evalsha", "+script|load", "+sadd", "+scard", "+hget", "+hset", "+hdel"])
        var configuration = f.workerConfiguration()
        configuration.redis = RedisConfiguration(host: f.redis.host, port: f.redis.port, username: user, password: password)
        let highest = try await f.publish(count: 600, symbols: 6)
        let worker = Worker(configuration: configuration, logger: Logger(label: "test"))
        try await f.run([worker], until: "stored, committed and in Redis as the ACL user") {
            let rows = try await f.rowCounts().rows
            guard rows == 600, try await f.caughtUp() else { return false }
            let state = try await f.redisState(symbols: 6)
            return state.allSatisfy { $0.value["seq"] == highest[$0.key].map(String.init) }
        }
        #expect(worker.health.redis.up, "\(String(describing: worker.health.redis.error))")
        try await admin.command(["ACL", "DELUSER", user])
        try await f.cleanUp(symbols: 6)
    }
}

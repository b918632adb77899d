import ArgumentParser
import Foundation
import GuardianAPI
import GuardianHTTP
import GuardianPostgres
import GuardianStores
import GuardianSupport
import Logging
import Prometheus
import ServiceLifecycle

/// `guardian api`: the query API (and `guardian api token …` to manage its tokens).
struct APICommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Serve the query API: symbols, state, events, rollups, alerts, fleet (bearer tokens; see `guardian api token`).",
        subcommands: [APIServeCommandLine.self, APITokenCommandLine.self],
        defaultSubcommand: APIServeCommandLine.self)
}

struct APIServeCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the query API (the default of `guardian api`).")

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup var log: LogOptions

    @Option(help: "Listen address host:port (env GUARDIAN_API_LISTEN, default 127.0.0.1:8080).")
    var listen: String?
    @Option(help: "The workers' consumer group whose lag /v1/fleet shows (env GUARDIAN_GROUP, default guardian-workers).")
    var group: String?
    @Option(help: "Requests per second per token (env GUARDIAN_API_RATE_LIMIT, default 100; bursts of twice that).")
    var rateLimit: Double?
    @Option(help: "The schemas/ folder holding openapi.json (env GUARDIAN_SCHEMAS_DIR; found next to the binary by default).")
    var schemasDir: String?
    @Option(help: "The console's static files, served at / (env GUARDIAN_CONSOLE_DIR; default the console/ folder next to schemas/; 'none' serves no console).")
    var consoleDir: String?
    @Option(help: "A chat webhook alerts are posted to, Slack-compatible (repeatable; env GUARDIAN_ALERT_WEBHOOK_URL, several separated by spaces).")
    var alertWebhookUrl: [String] = []
    @Option(help: "The alert types posted (comma-separated; env GUARDIAN_ALERT_KINDS; default all but lag_ok and cache_up).")
    var alertKinds: String?

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.api")
        let address = listen ?? CommandEnvironment.string(Settings.apiListen) ?? "127.0.0.1:8080"
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen / GUARDIAN_API_LISTEN '\(address)' is not host:port (e.g. 127.0.0.1:8080)")
        }
        let host = String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let schemas = try SchemaDirectory.locate(explicit: schemasDir ?? CommandEnvironment.string(Settings.schemasDir))
        let openAPIFile = schemas.appendingPathComponent("openapi.json")
        guard let openAPI = FileManager.default.contents(atPath: openAPIFile.path) else {
            throw ValidationError("cannot read \(openAPIFile.path): the OpenAPI document the API serves")
        }
        var console: String? = consoleDir ?? CommandEnvironment.string(Settings.consoleDir)
            ?? schemas.deletingLastPathComponent().appendingPathComponent("console").path
        if console == "none" { console = nil }
        if let dir = console, !FileManager.default.fileExists(atPath: dir + "/index.html") {
            if consoleDir != nil || CommandEnvironment.string(Settings.consoleDir) != nil {
                throw ValidationError("--console-dir / GUARDIAN_CONSOLE_DIR '\(dir)' has no index.html: point it at the project's console/ folder, or pass none")
            }
            logger.warning("no console found next to schemas/; serving the API without it", metadata: ["looked_in": "\(dir)"])
            console = nil
        }
        let hookTexts = alertWebhookUrl.isEmpty
            ? (CommandEnvironment.string(Settings.alertWebhookURL) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) : alertWebhookUrl
        let hooks = try hookTexts.map { text -> URL in
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--alert-webhook-url / GUARDIAN_ALERT_WEBHOOK_URL: '\(text.prefix(40))…' is not an http(s) URL")
            }
            return url
        }
        var kinds = APIConfiguration.defaultAlertKinds
        if let text = alertKinds ?? CommandEnvironment.string(Settings.alertKinds) {
            kinds = Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let unknown = kinds.subtracting(APIConfiguration.allAlertKinds)
            guard unknown.isEmpty, !kinds.isEmpty else {
                throw ValidationError("--alert-kinds / GUARDIAN_ALERT_KINDS: unknown \(unknown.sorted().joined(separator: ",")); "
                    + "the kinds are \(APIConfiguration.allAlertKinds.joined(separator: ","))")
            }
        }
        let perSecond = rateLimit ?? CommandEnvironment.string(Settings.apiRateLimit).flatMap(Double.init) ?? 100
        let configuration = APIConfiguration(
            host: host, port: port, postgres: store.postgres, redis: try store.redis,
            kafka: CommandEnvironment.string(Settings.kafkaBootstrapServers) != nil || kafka.kafkaBootstrapServers != nil ? try kafka.configuration() : nil,
            topic: kafka.resolvedTopic, group: group ?? CommandEnvironment.string(Settings.group) ?? "guardian-workers",
            rateLimitPerSecond: perSecond, rateLimitBurst: perSecond * 2, consoleDirectory: console,
            webhookURLs: hooks, alertKinds: kinds)
        if port != 0 {
            try ListenAddress.checkAvailable(host: host, port: port, setting: "GUARDIAN_API_LISTEN / --listen")
        }
        let registry = PrometheusCollectorRegistry()
        MetricsServer.bootstrap(registry: registry)
        let server = APIServer(configuration: configuration, openAPI: openAPI, logger: logger)
        let services = server.services(registry: registry) { bound in
            logger.info("serving the query API", metadata: ["address": "\(host):\(bound)", "openapi": "/openapi.json"])
        }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, failureTerminationBehavior: .cancelGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct APITokenCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, list and revoke the API's bearer tokens.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it alone on stdout, once (only its hash is stored).")
        @OptionGroup var store: StoreOptions
        @Option(help: "The token's name (1-64 of A-Z a-z 0-9 . _ -), shown in logs and audit rows.") var name: String
        @Option(help: "read (every GET) or operate (also offsets reset).") var scope: String = "read"

        func run() async throws {
            guard let scope = APIIdentity.Scope(rawValue: scope) else { throw ValidationError("--scope must be read or operate") }
            guard name.range(of: "^[A-Za-z0-9._-]{1,64}$", options: .regularExpression) != nil else {
                throw ValidationError("--name must be 1-64 characters of A-Z a-z 0-9 . _ -")
            }
            let db = try await PostgresConnection.connect(store.postgres)
            let token = try await APITokens.create(name: name, scope: scope, in: APITokenStore(connection: db))
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (names, scopes, times; never the tokens).")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let db = try await PostgresConnection.connect(store.postgres)
            let tokens = try await APITokenStore(connection: db).list()
            print("name\tscope\tcreated\trevoked")
            for t in tokens { print("\(t.name)\t\(t.scope)\t\(t.createdAt)\t\(t.revokedAt ?? "-")") }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token (refused by the API within 2 s).")
        @OptionGroup var store: StoreOptions
        @Option(help: "The token's name.") var name: String

        func run() async throws {
            let db = try await PostgresConnection.connect(store.postgres)
            guard try await APITokenStore(connection: db).revoke(name: name) else {
                throw ValidationError("no token called '\(name)' that is not revoked already (see `guardian api token list`)")
            }
            eprint("revoked token '\(name)'")
        }
    }
}

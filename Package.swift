// swift-tools-version:6.1
import PackageDescription

// Guardian Fleet: moves a trading engine's risk-guardian events from Kafka into
// Redis (real-time state) and TimescaleDB (history), committing offsets only
// after the writes are durable. See README.md for the architecture.
let package = Package(
    name: "guardian-fleet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "guardian", targets: ["GuardianCLI"]),
        .library(name: "GuardianEvents", targets: ["GuardianEvents"]),
        .library(name: "GuardianKafka", targets: ["GuardianKafka"]),
        .library(name: "GuardianPostgres", targets: ["GuardianPostgres"]),
        .library(name: "GuardianRedis", targets: ["GuardianRedis"]),
        .library(name: "GuardianPublisher", targets: ["GuardianPublisher"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
    ],
    targets: [
        // C libraries from Debian (librdkafka-dev, libpq-dev, libhiredis-dev).
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),

        // simdjson (C++, Debian's libsimdjson-dev) behind a small C API that fills a plain struct per event.
        // No unsafe flags anywhere: SwiftPM refuses them in a versioned dependency (scripts/check-dependable.sh).
        .target(
            name: "CGuardianJSON",
            linkerSettings: [.linkedLibrary("simdjson")]
        ),

        // The event contract v1: model, validation, JSON decoder and encoder. Pure: no I/O.
        .target(name: "GuardianEvents", dependencies: ["CGuardianJSON", "GuardianSupport"]),

        // Shared plumbing: dedicated threads for blocking C calls, error protocol, environment.
        .target(name: "GuardianSupport"),

        // Safe Swift wrappers, one module per C library.
        .target(name: "GuardianKafka", dependencies: ["CRdKafka", "GuardianSupport"]),
        .target(name: "GuardianPostgres", dependencies: ["CLibPQ", "GuardianSupport"]),
        .target(name: "GuardianRedis", dependencies: ["CHiredis", "GuardianSupport"]),

        // Stores: the events table in TimescaleDB/PostgreSQL (schema, migrations, idempotent batch writes,
        // partition maintenance) and the real-time state cache in Redis.
        .target(
            name: "GuardianStores",
            dependencies: [
                "GuardianEvents", "GuardianPostgres", "GuardianRedis", "GuardianSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The worker pipeline: consume, decode, write durably, update the cache, commit what is durable.
        .target(
            name: "GuardianWorker",
            dependencies: [
                "GuardianEvents", "GuardianKafka", "GuardianStores", "GuardianPostgres", "GuardianRedis", "GuardianSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Operating the fleet: consumer lag and its status rules, the lag exporter, offset resets,
        // replay of a time range, cache rebuild, the operations audit trail.
        .target(
            name: "GuardianOperations",
            dependencies: [
                "GuardianEvents", "GuardianKafka", "GuardianStores", "GuardianPostgres", "GuardianRedis", "GuardianSupport",
                "GuardianWorker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // `make run`'s demo: simulated engine, worker processes, live figures, verification.
        .target(
            name: "GuardianDemo",
            dependencies: [
                "GuardianEvents", "GuardianKafka", "GuardianPostgres", "GuardianRedis", "GuardianStores", "GuardianSupport",
                "GuardianPublisher",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The engine side: a fail-open publisher (memory, then a local spool) and the trading simulator.
        .target(
            name: "GuardianPublisher",
            dependencies: [
                "GuardianEvents", "GuardianKafka", "GuardianSupport",
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // Benchmark helpers for `make bench`.
        .target(
            name: "GuardianBench",
            dependencies: [
                "GuardianEvents", "GuardianKafka", "GuardianSupport", "GuardianPublisher",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),

        // HTTP: Prometheus /metrics, /healthz, /readyz (the worker's, the lag exporter's, the API's).
        .target(
            name: "GuardianHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // The query API (`guardian api`): symbols, state, events, rollups, alerts, fleet; bearer tokens.
        .target(
            name: "GuardianAPI",
            dependencies: [
                "GuardianEvents", "GuardianKafka", "GuardianPostgres", "GuardianRedis", "GuardianStores", "GuardianSupport",
                "GuardianOperations", "GuardianHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The local Kafka-protocol broker for development and tests (librdkafka's mock cluster).
        .target(
            name: "GuardianDevBroker",
            dependencies: [
                "CRdKafka", "GuardianKafka", "GuardianSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The thin command line: `guardian <subcommand>`.
        .executableTarget(
            name: "GuardianCLI",
            dependencies: [
                "GuardianKafka", "GuardianPostgres", "GuardianRedis", "GuardianDevBroker", "GuardianSupport",
                "GuardianEvents", "GuardianStores", "GuardianWorker", "GuardianOperations", "GuardianHTTP", "GuardianAPI", "GuardianDemo", "GuardianBench", "GuardianPublisher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Test helpers: the local stack's addresses (from the environment or .run/stack.env), silent servers.
        .target(name: "GuardianTestSupport", dependencies: ["GuardianSupport", "GuardianPostgres"], path: "Tests/GuardianTestSupport"),
        .testTarget(name: "GuardianSupportTests", dependencies: ["GuardianSupport"]),
        .testTarget(name: "GuardianEventsTests", dependencies: ["GuardianEvents"]),
        .testTarget(name: "GuardianKafkaTests", dependencies: ["GuardianKafka", "GuardianDevBroker", "GuardianTestSupport"]),
        .testTarget(name: "GuardianPostgresTests", dependencies: ["GuardianPostgres", "GuardianTestSupport"]),
        .testTarget(name: "GuardianRedisTests", dependencies: ["GuardianRedis", "GuardianTestSupport"]),
        .testTarget(name: "GuardianStoresTests", dependencies: ["GuardianStores", "GuardianTestSupport"]),
        .testTarget(
            name: "GuardianPublisherTests",
            dependencies: ["GuardianPublisher", "GuardianDevBroker", "GuardianTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "GuardianOperationsTests", dependencies: ["GuardianOperations", "GuardianTestSupport"]),
        .testTarget(
            name: "GuardianAPITests",
            dependencies: [
                "GuardianAPI", "GuardianStores", "GuardianKafka", "GuardianDevBroker", "GuardianTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "GuardianWorkerTests",
            dependencies: [
                "GuardianWorker", "GuardianOperations", "GuardianDevBroker", "GuardianTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)

import Hummingbird
import Logging
import Metrics
import Prometheus

/// Serves the process's swift-metrics as Prometheus text on `GET /metrics`, plus `GET /health`.
public enum MetricsServer {
    /// Routes metrics recorded through swift-metrics into `registry`. Call once, early in the process.
    public static func bootstrap(registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Seconds-scale buckets suit batch writes and end-to-end latency.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50),
            .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        factory.defaultValueHistogramBuckets = [1, 10, 100, 500, 1000, 2000, 5000, 10000, 50000]
        MetricsSystem.bootstrap(factory)
    }

    /// The HTTP application (a ServiceLifecycle service) listening on `host:port`.
    /// `onRunning` receives the bound port (useful with port 0).
    /// `readiness` answers `GET /readyz`: ready or not (200 / 503) and a JSON body; `/healthz` (and
    /// `/health`) answer `ok` while the process serves HTTP at all.
    public static func application(
        registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger,
        readiness: @escaping @Sendable () -> (ready: Bool, json: String) = { (true, #"{"ready":true}"#) },
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        addOperationalRoutes(to: router, registry: registry) { readiness() }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "guardian"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// Adds `GET /metrics` (Prometheus text of `registry`, with `MetricsHelp`'s help lines), `/healthz` and `/health` (`ok` while HTTP is
    /// served) and `/readyz` (200 or 503 with `readiness`'s JSON body) to `router`.
    public static func addOperationalRoutes<Context: RequestContext>(
        to router: Router<Context>, registry: PrometheusCollectorRegistry,
        readiness: @escaping @Sendable () async -> (ready: Bool, json: String)
    ) {
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: MetricsHelp.annotate(registry.emitToBuffer()))))
        }
        router.get("health") { _, _ -> String in "ok\n" }
        router.get("healthz") { _, _ -> String in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let (ready, json) = await readiness()
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: json + "\n")))
        }
    }
}

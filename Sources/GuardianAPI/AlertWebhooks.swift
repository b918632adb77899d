import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GuardianEvents
import GuardianStores
import Logging
import Metrics
import ServiceLifecycle

/// Posts alerts to chat webhooks (Slack-compatible JSON, `SlackMessage`): at least once, retried with
/// backoff, deduplicated by alert id across retries and restarts (`guardian_alert_deliveries`), in
/// order per webhook, each webhook on its own queue so a slow or failing one delays nobody — neither
/// the others, nor the API, nor the workers (alerts come from the stream, after they are stored).
///
/// At start, stored alert events of the last `catchUp` that a webhook has not acknowledged are posted
/// first (an API restart loses none of those). Fleet alerts are not stored: one seen while a webhook
/// is failing is retried like any other, but not after a restart. A service of `guardian api`.
final class AlertWebhooks: Service, Sendable {
    /// One webhook: its URL and the digest that names it in the database and logs.
    struct Target: Sendable {
        var url: URL
        /// First 16 hex digits of the URL's SHA-256: the URL itself is a secret.
        var key: String
        /// Scheme and host, for logs.
        var display: String

        init(url: URL) {
            self.url = url
            key = SHA256.hash(data: Data(url.absoluteString.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
            display = "\(url.scheme ?? "?")://\(url.host ?? "?")/… (\(key))"
        }
    }

    private let targets: [Target]
    private let kinds: Set<String>
    private let alerts: AlertStream
    private let pool: DatabasePool
    private let group: String
    private let logger: Logger
    private let catchUp: Duration
    private let maxAttempts: Int
    private let retryBase: Duration
    private let requestTimeout: TimeInterval

    init(
        urls: [URL], kinds: Set<String>, alerts: AlertStream, pool: DatabasePool, group: String, logger: Logger,
        catchUp: Duration = .seconds(900), maxAttempts: Int = 10, retryBase: Duration = .seconds(1), requestTimeout: TimeInterval = 10
    ) {
        targets = urls.map(Target.init(url:))
        self.kinds = kinds
        self.alerts = alerts
        self.pool = pool
        self.group = group
        self.logger = logger
        self.catchUp = catchUp
        self.maxAttempts = max(1, maxAttempts)
        self.retryBase = retryBase
        self.requestTimeout = requestTimeout
    }

    private func counter(_ result: String) -> Counter {
        Counter(label: "guardian_alert_webhook_posts_total", dimensions: [("result", result)])
    }

    func run() async throws {
        guard !targets.isEmpty, let subscription = alerts.subscribe(buffer: 10_000) else {
            try? await gracefulShutdown()
            return
        }
        defer { alerts.unsubscribe(subscription.id) }
        _ = try? await pool.run { try await AlertDeliveries(connection: $0).prune(olderThanDays: 7) }
        let queues = targets.map { _ in AsyncStream.makeStream(of: Alert.self, bufferingPolicy: .bufferingNewest(10_000)) }
        await withGracefulShutdownHandler {
            await fanOut(subscription.messages, to: queues)
        } onGracefulShutdown: { [alerts] in
            alerts.unsubscribe(subscription.id)  // ends the loop below; alerts not posted yet are caught up at the next start
        }
    }

    private func fanOut(_ messages: AsyncStream<AlertStream.Item>, to queues: [(stream: AsyncStream<Alert>, continuation: AsyncStream<Alert>.Continuation)]) async {
        await withTaskGroup(of: Void.self) { group in
            for (target, queue) in zip(targets, queues) {
                group.addTask { await self.deliver(queue.stream, to: target) }
            }
            // Subscribed first, then the stored backlog: an alert in both is posted once (deduplicated).
            let since = Int64(Date().timeIntervalSince1970 * 1_000_000) - Int64(catchUp.components.seconds) * 1_000_000
            if let stored = try? await pool.run({ try await EventQueries(connection: $0).alertEvents(sinceMicros: since, limit: 1000) }) {
                for e in stored.reversed() where kinds.contains(e.kind.rawValue) {
                    queues.forEach { $0.continuation.yield(Alert(event: e)) }
                }
            }
            for await item in messages {
                guard case .alert(let alert) = item, kinds.contains(alert.type) else { continue }
                queues.forEach { $0.continuation.yield(alert) }
            }
            queues.forEach { $0.continuation.finish() }
        }
    }

    /// Posts every alert of `queue` to `target`, in order; stops retrying on shutdown.
    private func deliver(_ queue: AsyncStream<Alert>, to target: Target) async {
        var recent = Set<String>()
        for await alert in queue {
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            guard !recent.contains(alert.id) else { continue }
            if (try? await pool.run({ try await AlertDeliveries(connection: $0).isDelivered(target: target.key, alertID: alert.id) })) == true {
                recent.insert(alert.id)
                continue
            }
            var attempt = 0
            while true {
                attempt += 1
                let failure = await post(alert, to: target)
                if failure == nil {
                    recent.insert(alert.id)
                    if recent.count > 50_000 { recent.removeAll(keepingCapacity: true) }
                    counter("delivered").increment()
                    do {
                        try await pool.run {
                            try await AlertDeliveries(connection: $0).record(target: target.key, alertID: alert.id, type: alert.type, attempts: attempt)
                        }
                    } catch {
                        logger.warning("an alert was posted but its delivery could not be recorded: it may be posted again after a restart",
                                       metadata: ["webhook": "\(target.display)", "alert": "\(alert.id)", "error": "\(error)"])
                    }
                    break
                }
                counter("failed_attempt").increment()
                if attempt >= maxAttempts || Task.isShuttingDownGracefully || Task.isCancelled {
                    counter("given_up").increment()
                    logger.error("giving up posting an alert to a webhook", metadata: [
                        "webhook": "\(target.display)", "alert": "\(alert.id)", "type": "\(alert.type)", "attempts": "\(attempt)",
                        "error": "\(failure ?? "")",
                    ])
                    break
                }
                let wait = min(retryBase * (1 << min(attempt - 1, 6)), .seconds(60))
                logger.warning("posting an alert to a webhook failed; retrying", metadata: [
                    "webhook": "\(target.display)", "alert": "\(alert.id)", "attempt": "\(attempt)", "retry_in": "\(wait)", "error": "\(failure ?? "")",
                ])
                _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            }
        }
    }

    /// nil when the webhook answered 2xx; else why not.
    private func post(_ alert: Alert, to target: Target) async -> String? {
        var request = URLRequest(url: target.url, timeoutInterval: requestTimeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = SlackMessage.body(for: alert, group: group)
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            guard let http = response as? HTTPURLResponse else { return "no HTTP response" }
            return (200..<300).contains(http.statusCode) ? nil : "HTTP \(http.statusCode)"
        } catch {
            return "\(error.localizedDescription)"
        }
    }
}

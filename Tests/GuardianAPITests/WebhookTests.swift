import Foundation
@testable import GuardianAPI
import GuardianEvents
import GuardianPostgres
import GuardianStores
import GuardianTestSupport
import Hummingbird
import Logging
import Synchronization
import Testing

/// A chat webhook of the test's own: answers 500 to the first `failFirst` posts, then 200, and keeps
/// every post.
final class WebhookReceiver: Sendable {
    struct Post: Sendable {
        var status: Int
        var body: Data
    }

    let posts = Mutex<[Post]>([])
    let port: Int
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    static func start(failFirst: Int) async throws -> WebhookReceiver {
        let box = Mutex<WebhookReceiver?>(nil)
        let bound = Mutex<Int?>(nil)
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let status: HTTPResponse.Status = box.withLock { receiver in
                guard let receiver else { return .serviceUnavailable }
                return receiver.posts.withLock { posts in
                    let status: HTTPResponse.Status = posts.count < failFirst ? .internalServerError : .ok
                    posts.append(Post(status: Int(status.code), body: Data(body.readableBytesView)))
                    return status
                }
            }
            return Response(status: status)
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in bound.withLock { $0 = channel.localAddress?.port } }, logger: Logger(label: "webhook"))
        let task = Task { try await app.runService() }
        let deadline = ContinuousClock.now + .seconds(30)
        while bound.withLock({ $0 }) == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard let port = bound.withLock({ $0 }) else { throw APITestError("the webhook receiver did not start") }
        let receiver = WebhookReceiver(port: port, task: task)
        box.withLock { $0 = receiver }
        return receiver
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)/hook")! }

    /// The event ids of the alerts acknowledged (200), in order.
    var delivered: [String] {
        posts.withLock { $0 }.filter { $0.status == 200 }.compactMap { post in
            guard let object = try? JSONSerialization.jsonObject(with: post.body) as? [String: Any],
                  let blocks = object["blocks"] as? [[String: Any]], let text = (blocks.first?["text"] as? [String: Any])?["text"] as? String,
                  let range = text.range(of: #"event `[0-9a-f-]{36}`"#, options: .regularExpression) else { return nil }
            return String(text[range].dropFirst(7).dropLast())
        }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

@Suite struct WebhookTests {
    /// Alerts reach the chat webhook once each: the first posts fail and are retried, a redelivered
    /// batch is not posted again, and after an API restart (stopped as SIGTERM does: a post in flight
    /// finishes and is recorded) the alerts stored while it was down are posted while those
    /// acknowledged before are not. (A crash between a 2xx and its record posts that alert again:
    /// at least once.)
    @Test func alertsArePostedOnceEachThroughFailuresRedeliveryAndAGracefulRestart() async throws {
        let receiver = try await WebhookReceiver.start(failFirst: 2)
        let f = try await APIFixture.make(webhooks: [receiver.url])
        let writer = DurableBatchWriter(writer: EventTableWriter(connection: try await f.connection()), logger: Logger(label: "api-test"))
        func store(_ events: [StoredEvent]) async throws {
            _ = try await writer.write(DurableBatch(events: events, refusedLetter: { _, _ in fatalError("no row is refused here") }),
                                       deliver: { _ in })
        }
        func alertIDs(_ events: [StoredEvent]) -> [String] {
            events.filter { AlertNotice.kinds.contains($0.event.kind) }.sorted { $0.event.ts < $1.event.ts }.map { $0.event.eventID.description }
        }
        func waitFor(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while receiver.delivered.count < count && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        }
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        let a = makeEvents(symbols: ["AAPL", "MSFT"], perSymbol: 50, start: now - 60_000_000_000)
        let b = makeEvents(symbols: ["ES.FUT"], perSymbol: 50, start: now - 50_000_000_000, seqBase: 100)
        let c = makeEvents(symbols: ["NQ.FUT"], perSymbol: 50, start: now - 40_000_000_000, seqBase: 200)

        try await store(a)
        try await waitFor(12)
        #expect(receiver.delivered == alertIDs(a), "each alert of the batch, in order")
        let posts = receiver.posts.withLock { $0 }
        #expect(posts.prefix(2).allSatisfy { $0.status == 500 } && posts.count == 14, "two failures, retried")
        let first = try #require(try JSONSerialization.jsonObject(with: posts[0].body) as? [String: Any])
        #expect((first["text"] as? String)?.contains("AAPL") == true && (first["blocks"] as? [Any])?.count == 2, "\(first)")

        try await store(a)  // redelivered: stored as a no-op, announced again
        try await store(b)
        try await waitFor(18)
        #expect(receiver.delivered == alertIDs(a) + alertIDs(b), "the redelivered batch is not posted again")

        await f.stopServer()
        try await store(c)  // while no API runs
        let g = try await APIFixture.make(webhooks: [receiver.url], reusing: f)
        try await waitFor(24)
        #expect(receiver.delivered == alertIDs(a) + alertIDs(b) + alertIDs(c), "after the restart: what was missed, nothing twice")
        let rows = try await f.connection().query("SELECT count(*), max(attempts) FROM guardian_alert_deliveries").rows
        #expect(rows == [["24", "3"]])
        try await g.stop()
        await receiver.stop()
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A Server-Sent Events client over a plain socket (FoundationNetworking on Linux cannot stream a
/// response body): sends one GET and reads messages as they arrive. Reads block a Dispatch thread,
/// never Swift's cooperative pool.
final class SSEClient: @unchecked Sendable {
    struct Message: Equatable {
        var id: String?
        var event: String?
        var data: String
    }

    private let fd: Int32
    /// Bytes received and not yet parsed; only touched on `queue`.
    private var buffer: [UInt8] = []
    private let queue = DispatchQueue(label: "sse-client")
    /// The response's status line and headers.
    private(set) var head = ""

    init(port: Int, path: String, token: String, lastEventID: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw APITestError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw APITestError("cannot connect to 127.0.0.1:\(port)")
        }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer \(token)\r\n"
        if let lastEventID { request += "Last-Event-ID: \(lastEventID)\r\n" }
        request += "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }

    /// Whether the response started (its head arrived) within `timeout`.
    func started(timeout: Duration) async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async {
                _ = self.read(count: 0, until: ContinuousClock.now + timeout)
                continuation.resume(returning: !self.head.isEmpty)
            }
        }
    }

    /// Messages (not comments) until `count` have come or `timeout` passes, whichever is first.
    func messages(count: Int, timeout: Duration) async -> [Message] {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.read(count: count, until: ContinuousClock.now + timeout)) }
        }
    }

    private func read(count: Int, until deadline: ContinuousClock.Instant) -> [Message] {
        var out: [Message] = []
        while out.count < count || (count == 0 && head.isEmpty) {
            if let message = parseOne() {
                if let message { out.append(message) }
                continue
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000) + 1) > 0 else { break }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { break }
            buffer += chunk[0..<n]
        }
        return out
    }

    /// One block up to a blank line: nil when none is complete yet, `.some(nil)` for the response head or a comment.
    private func parseOne() -> Message?? {
        // "\r\n" is one Character in Swift: lines are split on "\n" only after normalizing.
        let text = String(decoding: buffer, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        guard let range = text.range(of: "\n\n") else { return nil }
        let block = String(text[..<range.lowerBound])
        buffer = Array(text[range.upperBound...].utf8)
        if head.isEmpty {
            head = block
            return .some(nil)
        }
        // Chunked transfer encoding: drop chunk-size lines (hex digits only).
        var message = Message(id: nil, event: nil, data: "")
        var any = false
        for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("id: ") { message.id = String(line.dropFirst(4)); any = true }
            else if line.hasPrefix("event: ") { message.event = String(line.dropFirst(7)); any = true }
            else if line.hasPrefix("data: ") { message.data += String(line.dropFirst(6)); any = true }
        }
        return .some(any ? message : nil)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import GuardianKafka
import Logging

/// Serves dev-broker control commands (`DevBrokerCommand`), one per line, on a loopback TCP port.
/// Each reply is one line: `ok <status>` or `error <message>`.
public final class DevBrokerControlServer: @unchecked Sendable {
    private let broker: DevBroker
    private let listener: Int32
    private let logger: Logger
    /// The port the server listens on (127.0.0.1).
    public let port: UInt16

    /// Listens on 127.0.0.1:`port` (0 picks a free port) and starts accepting connections on its own thread.
    public init(broker: DevBroker, port: UInt16 = 0, logger: Logger) throws(KafkaError) {
        self.broker = broker
        self.logger = logger
        (listener, self.port) = try LineSocket.listen(port: port)
        let thread = Thread { [self] in self.acceptLoop() }
        thread.name = "dev-broker-control"
        thread.start()
    }

    /// Stops accepting connections.
    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return  // the listener was closed
            }
            let thread = Thread { [self] in
                LineSocket.readLines(fd) { line in
                    let reply = self.handle(line)
                    return LineSocket.write(fd, reply + "\n")
                }
                close(fd)
            }
            thread.start()
        }
    }

    /// Executes one command line and returns the reply line.
    public func handle(_ line: String) -> String {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return "error empty command. \(DevBrokerCommand.usage)" }
        do {
            let command = try DevBrokerCommand.parse(trimmed)
            let status = try command.apply(to: broker)
            if command != .status && command != .help { logger.notice("control: \(trimmed) -> \(status)") }
            return "ok \(status)"
        } catch {
            return "error \(error.message)"
        }
    }
}

/// Sends control commands to a running `guardian dev-broker`.
public struct DevBrokerControlClient: Sendable {
    /// The control port on 127.0.0.1.
    public let port: UInt16

    public init(port: UInt16) { self.port = port }

    /// Parses `127.0.0.1:PORT`, `localhost:PORT` or a bare port, as written in `GUARDIAN_DEV_BROKER_CONTROL`.
    public init(address: String) throws(KafkaError) {
        let portText = address.split(separator: ":").last.map(String.init) ?? address
        if address.contains(":") {
            let host = address.split(separator: ":").dropLast().joined(separator: ":")
            guard ["127.0.0.1", "localhost"].contains(host) else {
                throw KafkaError(.controlCommand, "the dev broker's control port is on loopback only, not '\(host)'")
            }
        }
        guard let port = UInt16(portText), port > 0 else {
            throw KafkaError(.controlCommand, "'\(address)' is not a control address like 127.0.0.1:PORT")
        }
        self.port = port
    }

    /// Sends one command and returns the text after `ok`; throws with the broker's message after `error`.
    /// Blocks for at most `timeoutSeconds`: call it from a thread that may block.
    public func sendBlocking(_ command: String, timeoutSeconds: Int = 10) throws(KafkaError) -> String {
        let fd = try LineSocket.connect(port: port, timeoutSeconds: timeoutSeconds)
        defer { close(fd) }
        guard LineSocket.write(fd, command + "\n") else { throw LineSocket.lastError("sending to the control port") }
        var reply: String?
        LineSocket.readLines(fd) { line in reply = line; return false }
        guard let reply else { throw KafkaError(.controlCommand, "the dev broker closed the control connection without a reply") }
        if reply.hasPrefix("ok") { return String(reply.dropFirst(2)).trimmingCharacters(in: .whitespaces) }
        throw KafkaError(.controlCommand, reply.hasPrefix("error ") ? String(reply.dropFirst(6)) : reply)
    }

    /// Sends one command from async code without blocking the cooperative pool.
    public func send(_ command: String, timeoutSeconds: Int = 10) async throws -> String {
        let client = self
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { () throws(KafkaError) in try client.sendBlocking(command, timeoutSeconds: timeoutSeconds) })
            }
            thread.start()
        }
    }
}

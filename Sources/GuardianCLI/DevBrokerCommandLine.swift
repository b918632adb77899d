import ArgumentParser
import Foundation
import GuardianDevBroker
import GuardianKafka
import GuardianSupport
import Logging
import ServiceLifecycle

/// `guardian dev-broker`: hosts the local Kafka-protocol cluster until SIGTERM or SIGINT.
struct DevBrokerCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract: "Run a local Kafka-protocol dev cluster (librdkafka's mock cluster) on loopback.",
        discussion: """
            For development and tests only: in memory, each partition keeps only its newest few MB, \
            no timestamp lookups, no DescribeGroups. Prints the bootstrap list and serves until \
            SIGTERM/SIGINT. Fault injection: send commands (see `guardian dev-broker-ctl help`) to the \
            control port, or on stdin with --stdin-control.
            """
    )

    @Option(help: "Number of brokers (env GUARDIAN_DEV_BROKERS).")
    var brokers: Int = (try? CommandEnvironment.int(Settings.devBrokers)) ?? 3

    @Option(name: .customLong("topic"), help: "Topic to create, as NAME:PARTITIONS; repeatable (default guardian.events:12).")
    var topics: [String] = []

    @Option(help: "Write the bootstrap list to this file once the cluster is up.")
    var bootstrapFile: String?

    @Option(help: "Loopback control port (0 picks a free one).")
    var controlPort: UInt16 = 0

    @Option(help: "Write the control address (127.0.0.1:PORT) to this file.")
    var controlFile: String?

    @Flag(help: "Also read control commands from standard input.")
    var stdinControl = false

    @OptionGroup var log: LogOptions

    func run() async throws {
        let logger = try log.makeLogger(label: "guardian.dev-broker")
        let specs = try (topics.isEmpty ? ["guardian.events:12"] : topics).map(Self.parseTopic)
        let broker = try DevBroker(brokers: brokers)
        for (name, partitions) in specs {
            try broker.createTopic(name, partitions: partitions, replicationFactor: min(brokers, 3))
        }
        let control = try DevBrokerControlServer(broker: broker, port: controlPort, logger: logger)
        let controlAddress = "127.0.0.1:\(control.port)"
        // Files are written atomically: a script waiting for them never reads half a line.
        if let controlFile { try Self.writeAtomically(controlAddress + "\n", to: controlFile) }
        if let bootstrapFile { try Self.writeAtomically(broker.bootstrapServers + "\n", to: bootstrapFile) }
        print("KAFKA_BOOTSTRAP_SERVERS=\(broker.bootstrapServers)")
        print("GUARDIAN_DEV_BROKER_CONTROL=\(controlAddress)")
        fflush(nil)
        logger.notice("dev broker up", metadata: [
            "brokers": "\(brokers)", "topics": "\(specs.map { "\($0.0):\($0.1)" }.joined(separator: ","))",
            "bootstrap": "\(broker.bootstrapServers)", "control": "\(controlAddress)",
        ])
        if stdinControl {
            let thread = Thread {
                while let line = readLine() {
                    print(control.handle(line))
                    fflush(nil)
                }
            }
            thread.start()
        }
        let service = DevBrokerService(broker: broker, control: control)
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("dev broker stopped")
    }

    static func parseTopic(_ spec: String) throws -> (String, Int) {
        let parts = spec.split(separator: ":")
        guard parts.count == 2, !parts[0].isEmpty, let n = Int(parts[1]), n >= 1 else {
            throw ValidationError("topic '\(spec)' should be NAME:PARTITIONS, e.g. guardian.events:12")
        }
        return (String(parts[0]), n)
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        let tmp = path + ".tmp"
        try text.write(toFile: tmp, atomically: false, encoding: .utf8)
        if rename(tmp, path) != 0 { throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}

/// Keeps the dev broker alive until graceful shutdown, then stops the control port.
struct DevBrokerService: Service {
    let broker: DevBroker
    let control: DevBrokerControlServer

    func run() async throws {
        try? await gracefulShutdown()
        control.stop()
        withExtendedLifetime(broker) {}
    }
}

/// `guardian dev-broker-ctl`: sends one fault-injection command to a running dev broker.
struct DevBrokerControlCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker-ctl",
        abstract: "Send a control command to a running dev broker (faults: brokers down/up, latency, request errors).",
        discussion: DevBrokerCommand.usage
    )

    @Option(help: "The control address 127.0.0.1:PORT (env GUARDIAN_DEV_BROKER_CONTROL).")
    var control: String? = CommandEnvironment.string(Settings.devBrokerControl)

    @Argument(parsing: .captureForPassthrough, help: "The command, e.g. `down all`, `up 2`, `rtt all 200`, `status`.")
    var command: [String] = []

    func run() async throws {
        guard let control else {
            throw ValidationError("no control address: pass --control 127.0.0.1:PORT or set GUARDIAN_DEV_BROKER_CONTROL (see .run/stack.env)")
        }
        let line = command.isEmpty ? "status" : command.joined(separator: " ")
        let client = try DevBrokerControlClient(address: control)
        print(try await client.send(line))
    }
}

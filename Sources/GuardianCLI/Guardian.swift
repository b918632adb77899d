import ArgumentParser
import GuardianSupport
import Logging

/// `guardian`: the Guardian Fleet command line. Each subcommand is a thin shell over a module.
@main
struct Guardian: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guardian",
        abstract: "Guardian Fleet: risk-guardian events from Kafka into Redis and TimescaleDB.",
        subcommands: [
            WorkerCommandLine.self, MigrateCommandLine.self, PublishCommandLine.self, SimulateCommandLine.self,
            DemoCommandLine.self, DevBrokerCommandLine.self,
            DevBrokerControlCommandLine.self, BenchCommandLine.self,
            SmokeCommandLine.self, SpoolCommandLine.self,
            LagCommandLine.self, OffsetsCommandLine.self, ReplayCommandLine.self, CacheCommandLine.self, APICommandLine.self,
            SettingsCommandLine.self,
        ]
    )
}

/// Log options shared by long-running subcommands.
struct LogOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (env GUARDIAN_LOG_LEVEL).")
    var logLevel: String = CommandEnvironment.string(Settings.logLevel) ?? "info"

    func makeLogger(label: String) throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw ValidationError("unknown log level '\(logLevel)'; use trace, debug, info, notice, warning, error or critical")
        }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

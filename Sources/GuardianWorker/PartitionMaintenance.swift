import GuardianPostgres
import GuardianStores
import Logging
import ServiceLifecycle

/// Plain PostgreSQL only: keeps the events table's partitions ahead of time and drops expired ones,
/// on a connection of its own. A failed round (database down) is retried on a fresh connection a
/// minute later, never given up. Ends at once on TimescaleDB (its policies do it).
struct PartitionMaintenance: Service {
    let postgres: PostgresConfiguration
    let settings: StorageSettings
    let interval: Duration
    let logger: Logger

    func run() async {
        var maintainer: PartitionMaintainer?
        while !Task.isCancelled {
            do {
                if maintainer == nil {
                    maintainer = PartitionMaintainer(connection: try await PostgresConnection.connect(postgres), settings: settings)
                }
                guard let round = try await maintainer?.runOnce() else { return }  // TimescaleDB does it
                if round.created > 0 || round.dropped > 0 {
                    logger.info("partitions maintained", metadata: ["created": "\(round.created)", "dropped": "\(round.dropped)"])
                }
                try? await Task.sleep(for: interval)
            } catch {
                maintainer = nil
                if Task.isCancelled { return }  // shutting down: the call was abandoned
                logger.warning("partition maintenance failed; retrying in a minute", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: min(interval, .seconds(60)))
            }
        }
    }
}

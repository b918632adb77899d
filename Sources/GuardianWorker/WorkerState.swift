import GuardianEvents
import GuardianKafka
import GuardianSupport
import Logging
import Synchronization

/// What the worker's services share: the pipeline's decisions (`PipelineStateMachine`, under its own
/// lock), the counts, each component's health, and the metrics. One lock per concern, each held only
/// for a pure update: no I/O happens under any of them.
final class WorkerState: Sendable {
    let machine: Mutex<PipelineStateMachine>
    let metrics = WorkerMetrics()
    let logger: Logger
    private let stats = Mutex(Worker.Statistics())
    private let healthState = Mutex(WorkerHealth())

    init(configuration: WorkerConfiguration, logger: Logger) {
        self.logger = logger
        machine = Mutex(PipelineStateMachine(maxBufferedBytes: configuration.maxBufferedBytes,
                                             maxEventsPerWrite: configuration.batch.maxEvents,
                                             writeLanes: configuration.writeLanes))
    }

    var statistics: Worker.Statistics { stats.withLock { $0 } }
    var health: WorkerHealth { healthState.withLock { $0 } }

    func count(_ update: (inout Worker.Statistics) -> Void) { stats.withLock { update(&$0) } }
    func updateHealth(_ update: (inout WorkerHealth) -> Void) { healthState.withLock { update(&$0) } }

    /// Marks a component up or down (health and the `guardian_component_up` gauge).
    func setComponent(_ path: WritableKeyPath<WorkerHealth, WorkerHealth.Component>, _ name: String, up: Bool, error: String?) {
        let changed = healthState.withLock { h -> Bool in
            let was = h[keyPath: path].up
            h[keyPath: path] = WorkerHealth.Component(up: up, error: up ? nil : error)
            return was != up
        }
        if changed { metrics.componentUp(name).record(up ? 1 : 0) }
    }

    /// The owned and paused partitions, as `/readyz` and the gauges show them.
    func publishOwnership() {
        let (paused, owned) = machine.withLock { ($0.paused.count, $0.tracker.owned) }
        metrics.pausedPartitions.record(paused)
        metrics.ownedPartitions.record(owned.count)
        healthState.withLock {
            $0.pausedPartitions = paused
            $0.ownedPartitions = owned.count
            $0.partitions = owned.map(\.partition).sorted()
        }
    }

    func record(consumed batch: DecodedBatch) {
        metrics.consumed.increment(by: batch.messageCount)
        stats.withLock { s in
            s.consumed += batch.messageCount
            s.rejected += batch.rejected.count
        }
        for r in batch.rejected {
            metrics.rejected(r.rejection.reason.rawValue).increment()
            logger.warning("invalid event: dead-lettering it", metadata: [
                "partition": "\(r.topicPartition)", "offset": "\(r.offset)", "reason": "\(r.rejection)",
            ])
        }
    }

    func record(written outcome: DurableWriter.Outcome, batch: DecodedBatch, took: Duration) {
        metrics.dbWrite.recordNanoseconds(Int64(took.wholeNanoseconds))
        metrics.persisted.increment(by: outcome.inserted)
        metrics.duplicates.increment(by: outcome.duplicates)
        metrics.batches.increment()
        metrics.batchSize.record(batch.messageCount)
        for d in outcome.deadLetters {
            metrics.deadLetters(d.reason).increment()
            if d.reason == EventRejection.Reason.databaseRefused.rawValue {
                logger.warning("the database refused an event: dead-lettered", metadata: [
                    "partition": "\(d.partition)", "offset": "\(d.offset)", "error": "\(d.errorCode): \(d.errorMessage)"])
            }
        }
        stats.withLock { s in
            s.persisted += outcome.inserted
            s.duplicates += outcome.duplicates
            s.deadLettered += outcome.deadLetters.count
            s.batches += 1
        }
        let now = WallClock.nowNanoseconds()
        for s in batch.events { metrics.endToEnd.recordNanoseconds(max(0, now - s.event.ts)) }
    }
}

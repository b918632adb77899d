/// The worker's writer: its lanes (`WriteLoop`), each writing its own partitions' batches on its own
/// database connection, run together and woken, finished or abandoned together.
final class WriteLanes: Sendable {
    private let lanes: [WriteLoop]

    init(_ lanes: [WriteLoop]) { self.lanes = lanes }

    /// The writes under way, at most one per lane.
    var currentWrites: [InFlightWrite] { lanes.compactMap(\.currentWrite) }
    /// True once shutdown gave up on the in-flight writes.
    var isAbandoned: Bool { lanes.contains { $0.isAbandoned } }

    /// Something was queued (in some lane).
    func wake() { for lane in lanes { lane.wake() } }
    /// Nothing more will be queued: each lane ends after its queued writes (or when abandoned).
    func finish() { for lane in lanes { lane.finish() } }
    /// Shutdown's deadline passed: in-flight writes stop retrying and nothing of them is committed.
    func abandon() { for lane in lanes { lane.abandon() } }

    /// Runs every lane until all have ended.
    func run() async {
        await withDiscardingTaskGroup { group in
            for lane in lanes { group.addTask { await lane.run() } }
        }
    }
}

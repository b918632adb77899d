import GuardianPostgres
import Synchronization

/// A few PostgreSQL connections the API's queries are spread over, round robin (each connection
/// runs one statement at a time on its own thread). Connected on first use; a connection that failed
/// is replaced on the next use.
final class DatabasePool: Sendable {
    private let configuration: PostgresConfiguration
    private let size: Int
    private let slots: Mutex<[PostgresConnection?]>
    private let next = Atomic<Int>(0)

    init(configuration: PostgresConfiguration, size: Int) {
        self.configuration = configuration
        self.size = max(1, size)
        slots = Mutex(Array(repeating: nil, count: max(1, size)))
    }

    func run<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let i = next.add(1, ordering: .relaxed).oldValue % size
        let connection: PostgresConnection
        if let c = slots.withLock({ $0[i] }) {
            connection = c
        } else {
            connection = try await PostgresConnection.connect(configuration)
            slots.withLock { $0[i] = connection }
        }
        do {
            return try await body(connection)
        } catch let error as PostgresError where error.isConnectionFailure {
            slots.withLock { if $0[i] === connection { $0[i] = nil } }
            throw error
        }
    }
}

import GuardianSupport
import Synchronization
import Testing

@Suite struct DedicatedThreadTests {
    @Test func runsJobsInOrderOnOneThreadAndReturnsResults() async throws {
        let thread = DedicatedThread(name: "test")
        let order = Mutex<[Int]>([])
        for i in 0..<100 { thread.submit { order.withLock { $0.append(i) } } }
        let value = try await thread.run { 42 }
        #expect(value == 42)
        #expect(order.withLock { $0 } == Array(0..<100))
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await thread.run { throw Boom() } }
        thread.shutdown()
        await #expect(throws: DedicatedThreadStopped.self) { try await thread.run { 1 } }
    }
}

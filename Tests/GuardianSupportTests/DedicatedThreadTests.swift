#if canImport(Glibc)
import Glibc
#endif
import GuardianSupport
import Synchronization
import Testing

@Suite struct DedicatedThreadTests {
    @Test func runsJobsInOrderOnOneThreadAndReturnsResults() async throws {
        let thread = DedicatedThread(name: "test")
        let order = Mutex<[Int]>([])
        let threads = Mutex<Set<UInt>>([])
        let me = pthread_self()
        let onCaller = Mutex(false)
        for i in 0..<100 {
            thread.submit {
                order.withLock { $0.append(i) }
                threads.withLock { _ = $0.insert(UInt(pthread_self())) }
                if pthread_equal(pthread_self(), me) != 0 { onCaller.withLock { $0 = true } }
            }
        }
        let value = try await thread.run {
            threads.withLock { _ = $0.insert(UInt(pthread_self())) }
            return 42
        }
        #expect(value == 42)
        #expect(order.withLock { $0 } == Array(0..<100))
        #expect(threads.withLock { $0.count } == 1, "every job ran on the one dedicated thread")
        #expect(!onCaller.withLock { $0 }, "and not on the caller's")
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await thread.run { throw Boom() } }
        thread.shutdown()
        await #expect(throws: DedicatedThreadStopped.self) { try await thread.run { 1 } }
    }
}

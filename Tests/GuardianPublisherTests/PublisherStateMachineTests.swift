import GuardianKafka
@testable import GuardianPublisher
import Testing

/// The publisher's decisions, without Kafka or a disk.
@Suite struct PublisherStateMachineTests {
    let transient = KafkaError(.produce, "policy violation", rdkafkaCode: 44)
    let purged = KafkaError(.produce, "purged", rdkafkaCode: -152)

    @Test func anOutageSpoolsUntilTheLastRoundIsHandedOver() {
        var m = PublisherStateMachine(spoolHoldsRecords: false)
        #expect(m.route() == .produce)
        m.brokersDown()
        #expect(m.mode == .spooling && m.route() == .spool)
        #expect(m.nextDrainStep() == .probe, "nothing is produced from the spool while the brokers are down")
        m.brokersAnswered()
        #expect(m.mode == .draining && m.route() == .spool, "events keep queueing behind the spool while it drains")
        #expect(m.nextDrainStep() == .produceRound)
        m.roundProduced(id: 7)
        #expect(m.nextDrainStep() == .awaitRound)
        #expect(m.delivery(id: 7, error: nil, key: nil, value: nil, permanent: false, purge: false) == .settledByRound)
        #expect(m.nextDrainStep() == .settleRound)
        #expect(m.settleRound() == [7: .delivered])
        m.handedOver()
        #expect(m.mode == .direct && m.route() == .produce && m.nextDrainStep() == .idle)
        #expect(m.counters.published == 4 && m.counters.delivered == 1, "a record delivered from the spool counts as delivered")
    }

    @Test func aSpoolLeftByTheLastRunIsDrainedFirst() {
        var m = PublisherStateMachine(spoolHoldsRecords: true)
        #expect(m.route() == .spool)
        #expect(m.nextDrainStep() == .produceRound)
    }

    @Test func aFullQueueOrAFailedDirectSendPutsWhatFollowsBehindTheSpool() {
        var m = PublisherStateMachine(spoolHoldsRecords: false)
        #expect(m.queueFull() == .spool)
        #expect(m.mode == .draining)

        var n = PublisherStateMachine(spoolHoldsRecords: false)
        #expect(n.delivery(id: 1, error: transient, key: [1], value: [2], permanent: false, purge: false) == .spool)
        #expect(n.mode == .draining && n.route() == .spool, "nothing overtakes the spooled event")
        #expect(n.counters.failed == 1)
    }

    @Test func closeKeepsPurgedEventsOnceAndDropsWhatComesAfter() {
        var m = PublisherStateMachine(spoolHoldsRecords: false)
        m.beginClosing()
        #expect(m.nextDrainStep() == .stop)
        #expect(m.route() == .drop)
        #expect(m.delivery(id: 3, error: purged, key: [1], value: [2], permanent: false, purge: true) == .keepForClose)
        #expect(m.delivery(id: 2, error: transient, key: [1], value: [2], permanent: false, purge: false) == .keepForClose,
                "while closing, any failure is kept for the spool")
        #expect(m.takePurged().map(\.id) == [3, 2])
        #expect(m.mode == .closed)
        #expect(m.delivery(id: 4, error: purged, key: [1], value: [2], permanent: false, purge: true) == .lost)
        #expect(m.counters.dropped == 2, "the route after close and the late report")
    }

    @Test func permanentRefusalsAreDeadLetteredAndCopylessFailuresCounted() {
        var m = PublisherStateMachine(spoolHoldsRecords: false)
        #expect(m.delivery(id: 1, error: transient, key: [1], value: [2], permanent: true, purge: false) == .deadLetter)
        #expect(m.delivery(id: 2, error: transient, key: nil, value: nil, permanent: false, purge: false) == .failedWithoutCopy)
        #expect(m.mode == .direct)
        #expect(m.delivery(id: 3, error: nil, key: nil, value: nil, permanent: false, purge: false) == .delivered)
        #expect(m.counters.delivered == 1 && m.counters.failed == 1)
    }
}

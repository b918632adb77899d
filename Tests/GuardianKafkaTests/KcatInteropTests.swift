import Foundation
import GuardianDevBroker
import GuardianKafka
import GuardianTestSupport
import Testing

/// The dev broker speaks the real protocol: the stock `kcat` client produces to it and consumes
/// from it through a consumer group.
@Suite struct KcatInteropTests {
    @Test func kcatProducesAndConsumesWithAConsumerGroup() async throws {
        let bootstrap = try StackEnvironment.shared.kafkaBootstrapServers
        let control = try DevBrokerControlClient(address: try StackEnvironment.shared.devBrokerControl)
        let topic = uniqueName("kcat")
        _ = try await control.send("topic \(topic) 3 3")

        let lines = (0..<50).map { "SYM\($0 % 5):{\"n\":\($0)}" }.joined(separator: "\n") + "\n"
        let produced = try await runKcat(["-P", "-b", bootstrap, "-t", topic, "-K:"], stdin: lines)
        #expect(produced.status == 0, "kcat -P: \(produced.stderr)")

        let consumed = try await runKcat([
            "-C", "-b", bootstrap, "-G", uniqueName("kcat-group"), "-X", "auto.offset.reset=earliest",
            "-c", "50", "-f", "%k %s\n", topic,
        ])
        #expect(consumed.status == 0, "kcat -C: \(consumed.stderr)")
        let received = consumed.stdout.split(separator: "\n").map(String.init)
        #expect(received.count == 50)
        #expect(Set(received) == Set((0..<50).map { "SYM\($0 % 5) {\"n\":\($0)}" }))
    }

    /// Runs kcat with a hard 60 s limit (then killed and reported) so a hung client cannot hang the suite.
    func runKcat(_ arguments: [String], stdin: String? = nil) async throws -> ChildProcess.Result {
        let r = try await ChildProcess.run("/usr/bin/kcat", arguments, environment: ProcessInfo.processInfo.environment, stdin: stdin, timeout: .seconds(60))
        if r.timedOut { Issue.record("kcat \(arguments.joined(separator: " ")) ran past 60 s and was killed") }
        return r
    }
}

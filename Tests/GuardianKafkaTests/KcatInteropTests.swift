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
        let produced = try runKcat(["-P", "-b", bootstrap, "-t", topic, "-K:"], stdin: lines)
        #expect(produced.status == 0, "kcat -P: \(produced.stderr)")

        let consumed = try runKcat([
            "-C", "-b", bootstrap, "-G", uniqueName("kcat-group"), "-X", "auto.offset.reset=earliest",
            "-c", "50", "-f", "%k %s\n", topic,
        ])
        #expect(consumed.status == 0, "kcat -C: \(consumed.stderr)")
        let received = consumed.stdout.split(separator: "\n").map(String.init)
        #expect(received.count == 50)
        #expect(Set(received) == Set((0..<50).map { "SYM\($0 % 5) {\"n\":\($0)}" }))
    }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    /// Runs kcat with a hard 60 s limit so a hung client cannot hang the suite.
    func runKcat(_ arguments: [String], stdin: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["60", "kcat"] + arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus,
                      stdout: String(decoding: stdoutData, as: UTF8.self), stderr: String(decoding: stderrData, as: UTF8.self))
    }
}

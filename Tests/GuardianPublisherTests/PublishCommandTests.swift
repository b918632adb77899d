import Foundation
import GuardianDevBroker
import GuardianEvents
import GuardianKafka
import GuardianPublisher
import GuardianTestSupport
import Testing

/// `guardian publish` as a user runs it: a file with good and bad lines.
@Suite struct PublishCommandTests {
    static var guardianBinary: String {
        if let bin = ProcessInfo.processInfo.environment["GUARDIAN_BIN"], !bin.isEmpty { return bin }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/guardian").path
    }

    @Test func goodLinesArriveAndEachBadLineIsReportedWithItsNumber() async throws {
        let env = StackEnvironment.shared
        let bootstrap = try env.kafkaBootstrapServers
        let topic = uniqueName("publish")
        _ = try await DevBrokerControlClient(address: try env.devBrokerControl).send("topic \(topic) 3 3")
        let ids = (0..<5).map { _ in EventID.random().description }
        let lines = [
            #"{"v":1,"event_id":"\#(ids[0])","symbol":"AAPL","seq":1,"ts":1764000000000000000,"kind":"order_check","decision":"allow"}"#,
            #"{"v":1,"event_id":"\#(ids[1])","symbol":"AAPL","seq":2,"ts":1764000000000000001,"kind":"trade"}"#,
            "",
            #"not json at all"#,
            #"{"v":1,"event_id":"\#(ids[2])","symbol":"MSFT","seq":1,"ts":1764000000000000002,"kind":"pnl","realized_pnl":-3.5}"#,
            #"{"v":1,"event_id":"\#(ids[3])","symbol":"MSFT","seq":-4,"ts":1764000000000000003,"kind":"pnl"}"#,
            #"{"v":1,"event_id":"\#(ids[4])","symbol":"BRK.B","seq":7,"ts":1764000000000000004,"kind":"heartbeat","extra":true}"#,
        ]
        let (status, stdout, stderr) = try await publishFile(lines, topic: topic, bootstrap: bootstrap)
        #expect(status == 1, "rejected lines make the exit status non-zero")
        #expect(stdout.contains("read 6, published 3, rejected 3, delivered 3"), "\(stdout)")
        let reported = stderr.split(separator: "\n").filter { $0.hasPrefix("line ") }
        #expect(reported.count == 3, "\(stderr)")
        #expect(reported.contains { $0.hasPrefix("line 2:") && $0.contains("'kind'") })
        #expect(reported.contains { $0.hasPrefix("line 4:") && $0.contains("malformed") })
        #expect(reported.contains { $0.hasPrefix("line 6:") && $0.contains("'seq'") })

        let got = try await eventIDs(topic: topic, bootstrap: bootstrap)
        #expect(Set(got) == [ids[0], ids[2], ids[4]])
        #expect(got.count == 3)
    }

    /// Issue 8, what was seen: 5 events of one symbol, the 2nd with a 1.5 MB attrs; only 1 was delivered,
    /// 4 stuck in the spool, and the exit status was 0. Now the big line is rejected by number, the
    /// other 4 are delivered in order, nothing stays in the spool, and the status says lines were rejected.
    @Test func anOversizedLineIsRejectedAndTheRestDelivered() async throws {
        let env = StackEnvironment.shared
        let bootstrap = try env.kafkaBootstrapServers
        let topic = uniqueName("publish-big")
        _ = try await DevBrokerControlClient(address: try env.devBrokerControl).send("topic \(topic) 1 3")
        let ids = (0..<5).map { _ in EventID.random().description }
        let lines = ids.enumerated().map { i, id in
            let attrs = i == 1 ? #","attrs":{"blob":"\#(String(repeating: "x", count: 1_500_000))"}"# : ""
            return #"{"v":1,"event_id":"\#(id)","symbol":"AAPL","seq":\#(i),"ts":176400000000000000\#(i),"kind":"order_check"\#(attrs)}"#
        }
        let (status, stdout, stderr) = try await publishFile(lines, topic: topic, bootstrap: bootstrap)
        #expect(status == 1, "a rejected line: status 1, not 0")
        #expect(stdout.contains("read 5, published 4, rejected 1, delivered 4"), "\(stdout)")
        #expect(stderr.contains("line 2: [event.oversized]"), "\(stderr)")

        let got = try await eventIDs(topic: topic, bootstrap: bootstrap)
        #expect(got == [ids[0], ids[2], ids[3], ids[4]], "the rest, in order")
    }

    /// The event ids on `topic`, in offset order (one partition), read through a fresh group up to the
    /// topic's end offsets (bounded): a duplicate at the tail is seen, not cut off by a count.
    func eventIDs(topic: String, bootstrap: String) async throws -> [String] {
        let configuration = KafkaConfiguration(bootstrapServers: bootstrap)
        let ends = try await KafkaAdmin(configuration: configuration).endOffsets(topic: topic)
        let consumer = try KafkaConsumer(configuration: configuration, groupID: uniqueName("check"))
        try await consumer.subscribe(topics: [topic])
        var next = Dictionary(uniqueKeysWithValues: ends.map { ($0.partition, Int64(0)) })
        var got: [String] = []
        let deadline = ContinuousClock.now + .seconds(120)
        let decoder = EventDecoder()
        while !ends.allSatisfy({ next[$0.partition, default: 0] >= ($0.offset ?? 0) }) && ContinuousClock.now < deadline {
            for m in try await consumer.poll(maxMessages: 100, timeout: .milliseconds(100)).messages {
                next[m.partition] = max(next[m.partition, default: 0], m.offset + 1)
                if case .success(let e) = decoder.decode(m.value, key: m.key) { got.append(e.eventID.description) }
            }
        }
        try await consumer.close()
        #expect(ends.allSatisfy { next[$0.partition, default: 0] >= ($0.offset ?? 0) }, "read \(topic) to its end within 120 s")
        return got
    }

    /// Runs `guardian publish --file` on `lines` with a spool of its own; both removed afterwards.
    func publishFile(_ lines: [String], topic: String, bootstrap: String) async throws -> (status: Int32, stdout: String, stderr: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(topic).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("\(topic)-spool")
        defer {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(at: spool)
        }
        return try await run(["publish", "--file", file.path, "--topic", topic, "--kafka-bootstrap-servers", bootstrap, "--spool-dir", spool.path])
    }

    /// Runs `guardian` to its end without blocking a test thread (blocking ones starve the shared pool).
    func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try await ChildProcess.run(Self.guardianBinary, arguments, environment: ProcessInfo.processInfo.environment, timeout: .seconds(180))
        #expect(!r.timedOut, "guardian \(arguments.first ?? "") still running after 180 s; killed")
        return (r.status, r.stdout, r.stderr)
    }

    /// An operator's view of a spool: `guardian spool status` (read-only), `guardian spool drain`
    /// (delivers, sets aside what Kafka refuses, says so in its exit status), and one process at a time.
    @Test func spoolStatusAndDrain() async throws {
        let env = StackEnvironment.shared
        let bootstrap = try env.kafkaBootstrapServers
        let topic = uniqueName("spool-cli")
        _ = try await DevBrokerControlClient(address: try env.devBrokerControl).send("topic \(topic) 1 3")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(topic)-spool")
        defer { try? FileManager.default.removeItem(at: dir) }
        let now = Int64(Date().timeIntervalSince1970 * 1e9) - 5_000_000_000
        var events = (0..<4).map { i in GuardianEvent(eventID: .random(), symbol: "AAPL", seq: Int64(i), ts: now + Int64(i), kind: .heartbeat) }
        events[2].attrs = #"{"blob":"\#(String(repeating: "x", count: 1_200_000))"}"#
        do {
            let spool = try Spool(directory: dir, sync: .everyRecord)
            for e in events { try spool.append(key: Array("AAPL".utf8), value: EventEncoder().encode(e)) }
            // Held open here: a second process must be refused.
            let busy = try await run(["spool", "drain", "--spool-dir", dir.path, "--topic", topic, "--kafka-bootstrap-servers", bootstrap, "--timeout", "5"])
            #expect(busy.status != 0 && busy.stderr.contains("in use by another process"), "\(busy.stderr)")
        }
        let status = try await run(["spool", "status", "--spool-dir", dir.path, "--format", "json"])
        #expect(status.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.stdout)")
        #expect(json["records"] as? Int == 4 && json["dead_letters"] as? Int == 0, "\(status.stdout)")
        #expect((json["oldest_age_seconds"] as? Double).map { $0 >= 5 } == true, "\(status.stdout)")

        let drain = try await run(["spool", "drain", "--spool-dir", dir.path, "--topic", topic, "--kafka-bootstrap-servers", bootstrap, "--timeout", "30"])
        #expect(drain.status == 2, "one event dead-lettered: status 2 (\(drain.stdout) \(drain.stderr))")
        #expect(drain.stdout.contains("4 records found; 3 delivered, 1 dead-lettered; the spool is empty"), "\(drain.stdout)")
        let after = try await run(["spool", "status", "--spool-dir", dir.path])
        #expect(after.stdout.contains("0 undelivered records") && after.stdout.contains("1 dead letters"), "\(after.stdout)")
    }
}

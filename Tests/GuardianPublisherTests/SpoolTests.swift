import Foundation
import GuardianPublisher
import Testing

/// Flips one byte of the record holding `marker` in the spool's segment files.
func damageRecord(in dir: URL, containing marker: String) throws {
    for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasPrefix("segment-") {
        let url = dir.appendingPathComponent(name)
        var data = try Data(contentsOf: url)
        guard let range = data.range(of: Data(marker.utf8)) else { continue }
        data[range.lowerBound] ^= 0xFF
        try data.write(to: url)
        return
    }
    Issue.record("no record holds \(marker)")
}

/// Recovery: damaged records are skipped without losing the valid ones after them; a cursor past the
/// surviving data is brought back.
@Suite struct SpoolRecoveryTests {
    func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("spool-r-\(UInt64.random(in: 0...UInt64.max))")
    }

    func drain(_ spool: Spool) throws -> (values: [String], corrupt: Int) {
        var values: [String] = [], corrupt = 0
        while true {
            let batch = try spool.peek(max: 50)
            if batch.isEmpty { break }
            for r in batch {
                if r.isCorrupt { corrupt += 1 } else { values.append(String(decoding: r.value, as: UTF8.self)) }
            }
            try spool.acknowledge(through: batch.last!.end)
        }
        return (values, corrupt)
    }

    @Test func aDamagedRecordInAnEarlierSegmentCostsOnlyItself() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let spool = try Spool(directory: dir, sync: .everyRecord, segmentBytes: 2048)
            for i in 0..<300 { try spool.append(key: Array("k".utf8), value: Array("value-\(String(format: "%04d", i))".utf8)) }
        }
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("segment-") }
        #expect(segments.count > 3)
        // ~97 records a segment: 10 and 250 lie inside earlier segments, 290 ends the third, 295 is in the last.
        let damaged = [10, 250, 290, 295]
        for i in damaged { try damageRecord(in: dir, containing: "value-\(String(format: "%04d", i))") }
        let spool = try Spool(directory: dir, sync: .everyRecord, segmentBytes: 2048)
        #expect(spool.corruptSpansAtOpen == damaged.count, "every segment checked on open")
        let (values, corrupt) = try drain(spool)
        #expect(corrupt == damaged.count)
        #expect(values == (0..<300).filter { !damaged.contains($0) }.map { "value-\(String(format: "%04d", $0))" },
                "every valid record, in order, including those after the damage")
    }

    @Test func aCursorPastTheSurvivingDataIsBroughtBack() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let spool = try Spool(directory: dir, sync: .never)
            for i in 0..<20 { try spool.append(key: [1], value: Array("old-\(i)".utf8)) }
            try spool.acknowledge(through: try spool.peek(max: 20).last!.end)  // the cursor is synced
        }
        // Power lost: the appends never reached the disk, the cursor did.
        let segment = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("segment-") }!
        let handle = try FileHandle(forWritingTo: dir.appendingPathComponent(segment))
        try handle.truncate(atOffset: 100)
        try handle.close()
        let spool = try Spool(directory: dir, sync: .never)
        for i in 0..<5 { try spool.append(key: [1], value: Array("new-\(i)".utf8)) }
        #expect(try drain(spool).values == (0..<5).map { "new-\($0)" }, "what comes after is read from its start, not skipped")
    }
}

@Suite struct SpoolTests {
    func tempDir() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UInt64.random(in: 0...UInt64.max))")
    }

    @Test func keepsOrderAcrossSegmentsAndAcknowledgements() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spool = try Spool(directory: dir, maxBytes: 1 << 20, sync: .never, segmentBytes: 4096)
        for i in 0..<500 { try spool.append(key: Array("k\(i % 7)".utf8), value: Array("value-\(i)".utf8)) }
        var seen: [String] = []
        while true {
            let batch = try spool.peek(max: 64)
            if batch.isEmpty { break }
            seen += batch.map { String(decoding: $0.value, as: UTF8.self) }
            try spool.acknowledge(through: batch.last!.end)
        }
        #expect(seen == (0..<500).map { "value-\($0)" })
        #expect(spool.isEmpty)
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("segment-") }
        #expect(segments.count == 1, "delivered segments are deleted: \(segments)")
    }

    @Test func survivesReopeningAndCutsATornTail() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let spool = try Spool(directory: dir, sync: .everyRecord)
            for i in 0..<10 { try spool.append(key: [1], value: Array("v\(i)".utf8)) }
            try spool.acknowledge(through: try spool.peek(max: 3).last!.end)
        }
        // A crash mid-write leaves half a record at the end.
        let segment = try FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasPrefix("segment-") }!
        let handle = try FileHandle(forWritingTo: dir.appendingPathComponent(segment))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 40, 1, 2, 3]))
        try handle.close()

        let reopened = try Spool(directory: dir)
        let rest = try reopened.peek(max: 100).map { String(decoding: $0.value, as: UTF8.self) }
        #expect(rest == (3..<10).map { "v\($0)" })
        try reopened.append(key: [1], value: Array("after".utf8))
        #expect(try reopened.peek(max: 100).last.map { String(decoding: $0.value, as: UTF8.self) } == "after")
    }

    @Test func refusesWhenFull() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spool = try Spool(directory: dir, maxBytes: 100, sync: .never)
        try spool.append(key: [], value: [UInt8](repeating: 7, count: 50))
        let error = #expect(throws: SpoolError.self) { try spool.append(key: [], value: [UInt8](repeating: 7, count: 50)) }
        #expect(error?.kind == .full)
    }
}

@Suite struct SpoolPrependTests {
    @Test func prependedRecordsComeFirstAndSurviveReopening() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            let spool = try Spool(directory: dir, sync: .never)
            for i in 0..<6 { try spool.append(key: [], value: Array("new\(i)".utf8)) }
            try spool.acknowledge(through: try spool.peek(max: 2).last!.end)  // new0, new1 delivered
            try spool.prepend([(key: [], value: Array("old0".utf8)), (key: [], value: Array("old1".utf8))])
            #expect(try spool.peek(max: 100).map { String(decoding: $0.value, as: UTF8.self) } == ["old0", "old1", "new2", "new3", "new4", "new5"])
        }
        let reopened = try Spool(directory: dir)
        let all = try reopened.peek(max: 100)
        #expect(all.map { String(decoding: $0.value, as: UTF8.self) } == ["old0", "old1", "new2", "new3", "new4", "new5"])
        try reopened.acknowledge(through: all[2].end)
        #expect(try reopened.peek(max: 100).map { String(decoding: $0.value, as: UTF8.self) } == ["new3", "new4", "new5"])
        try reopened.acknowledge(through: all[5].end)
        #expect(reopened.isEmpty)
    }

    /// What `close()` does after a hand-over: the undelivered part of a round handed to Kafka, merged with
    /// other records in produce order, replaces the round at the front in one step — across segment
    /// boundaries, with the byte count right, and the same after reopening.
    @Test func aPrependCanReplaceTheRoundItHoldsTheUndeliveredPartOf() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: dir) }
        func text(_ records: [SpoolRecord]) -> [String] { records.map { String(decoding: $0.value, as: UTF8.self) } }
        let expected = ["r2", "d0", "r5", "d1"] + (8..<40).map { "r\($0)" }
        do {
            let spool = try Spool(directory: dir, sync: .never, segmentBytes: 64)  // a few records per segment
            for i in 0..<40 { try spool.append(key: [], value: Array("r\(i)".utf8)) }
            let bytesBefore = spool.byteCount
            let round = try spool.peek(max: 8)  // r0…r7, spanning segments; r2 and r5 undelivered
            try spool.prepend([(key: [], value: Array("r2".utf8)), (key: [], value: Array("d0".utf8)),
                               (key: [], value: Array("r5".utf8)), (key: [], value: Array("d1".utf8))],
                              replacingThrough: round.last!.end)
            #expect(text(try spool.peek(max: 100)) == expected)
            let roundBytes = round.reduce(0) { $0 + 8 + 2 + $1.value.count }
            #expect(spool.byteCount == bytesBefore - roundBytes + 4 * (8 + 2 + 2))
        }
        let reopened = try Spool(directory: dir)
        let all = try reopened.peek(max: 100)
        #expect(text(all) == expected)
        try reopened.acknowledge(through: all[5].end)
        #expect(text(try reopened.peek(max: 100)) == Array(expected.dropFirst(6)))
        try reopened.acknowledge(through: all.last!.end)
        #expect(reopened.isEmpty)
    }
}

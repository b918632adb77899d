#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A spool directory at a glance (`Spool.status`).
public struct SpoolStatus: Sendable, Equatable {
    /// Undelivered intact records.
    public var records = 0
    /// Undelivered bytes, damaged spans included.
    public var bytes = 0
    /// Damaged spans among the undelivered data.
    public var corrupt = 0
    /// Lines in the dead-letter file.
    public var deadLetters = 0
    /// The oldest undelivered record's value (the event JSON as published).
    public var oldestValue: [UInt8]?

    public init() {}
}

extension Spool {
    /// What a spool directory holds, read without opening (or repairing) it, so it is safe while a
    /// publisher runs: undelivered records and bytes, the oldest undelivered record, dead letters.
    public static func status(directory: URL) -> SpoolStatus {
        var status = SpoolStatus()
        let saved = SpoolFiles.readCursor(directory)
        let segments = SpoolFiles.segments(in: directory)
        guard !segments.isEmpty else { return status }
        var cursor = saved?.cursor ?? SpoolPosition(segment: segments[0], offset: 0)
        if cursor.segment < segments[0] { cursor = SpoolPosition(segment: segments[0], offset: 0) }
        for seg in segments where seg >= cursor.segment {
            let path = SpoolFiles.segmentURL(directory, seg).path
            let size = SpoolFiles.fileSize(path)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var offset = seg == cursor.segment ? cursor.offset : (saved?.skip[seg] ?? 0)
            while offset < size {
                if let (record, length) = SpoolRecordFormat.readRecord(fd, at: offset, limit: size) {
                    if status.records == 0 { status.oldestValue = record.1 }
                    status.records += 1
                    status.bytes += length
                    offset += length
                } else {
                    let next = SpoolRecordFormat.nextIntactRecord(fd, after: offset, limit: size)
                    if next < size || seg != segments.last { status.corrupt += 1 }
                    status.bytes += next - offset
                    offset = next
                }
            }
        }
        let letters = directory.appendingPathComponent("dead-letters.jsonl")
        status.deadLetters = (try? Data(contentsOf: letters))?.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } ?? 0
        return status
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GuardianSupport
import Synchronization

/// When the spool forces its writes to disk.
public enum SpoolSyncPolicy: Sendable, Equatable {
    /// After every record: nothing acknowledged is lost on power failure; slowest.
    case everyRecord
    /// At most this often (the publisher's flusher calls `sync()`); a crash of the machine may lose the
    /// last interval, a crash of the process loses nothing.
    case interval(Duration)
    /// Only when segments roll and on close; the OS decides otherwise.
    case never
}

/// An error from the spool.
public struct SpoolError: GuardianError, Equatable {
    public enum Kind: String, Sendable { case full, io, corrupt, busy }
    public let kind: Kind
    public let message: String
    public var code: String { "spool.\(kind.rawValue)" }
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// A position in the spool: segment number and byte offset.
public struct SpoolPosition: Sendable, Comparable, Equatable {
    public var segment: Int
    public var offset: Int
    public static func < (a: SpoolPosition, b: SpoolPosition) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
}

/// One spooled record and the position just after it.
public struct SpoolRecord: Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var end: SpoolPosition
    /// True for a damaged span (its checksum fails): `value` holds its raw bytes, `key` is empty. It is
    /// never sent; the publisher sets it aside in its dead-letter file and goes on with what follows.
    public var isCorrupt = false

    public init(key: [UInt8], value: [UInt8], end: SpoolPosition, isCorrupt: Bool = false) {
        self.key = key
        self.value = value
        self.end = end
        self.isCorrupt = isCorrupt
    }
}

/// An append-only, size-bounded, crash-safe queue of Kafka records on local disk.
///
/// Segment files `segment-NNNNNNNNNNNNNNNN.log` hold records `[length u32][crc32 u32][key length u16][key][value]`
/// (big-endian); `cursor` holds the position up to which records were delivered. Records come out in
/// the order they went in.
///
/// Recovery on open: every undelivered segment is checked. A torn record at the very end (a crash
/// mid-write) is cut off; a damaged record anywhere else is skipped — the next intact record is found
/// by its checksum — and handed out as a corrupt span (counted, never sent), so one bad sector never
/// costs the valid records after it. A cursor past the data that survived (the machine lost power
/// after the cursor was synced and before the appends were) is brought back to the end of that data.
public final class Spool: Sendable {
    private struct State {
        var writeSegment: Int
        var writeOffset: Int
        var writeFD: Int32
        var cursor: SpoolPosition
        /// Where reading starts in a segment other than the cursor's (after a prepend moved the cursor
        /// to a new segment in front of a partly delivered one).
        var skip: [Int: Int]
        var bytes: Int  // undelivered bytes on disk
        var dirty = false
        var lastSync = ContinuousClock.now
        var closed = false
    }

    public let directory: URL
    public let maxBytes: Int
    public let sync: SpoolSyncPolicy
    public let segmentBytes: Int
    /// Damaged spans found in the undelivered segments when the spool was opened.
    public let corruptSpansAtOpen: Int
    private let state: Mutex<State>
    /// The `lock` file, held (flock) while this spool is open: one process at a time.
    private let lockFD: Int32
    private let lockReleased = Atomic<Bool>(false)

    /// Opens (or creates) the spool in `directory`, recovering what a previous process left.
    public init(directory: URL, maxBytes: Int = 1 << 30, sync: SpoolSyncPolicy = .interval(.milliseconds(100)),
                segmentBytes: Int = 64 << 20) throws(SpoolError) {
        self.directory = directory
        self.maxBytes = maxBytes
        self.sync = sync
        self.segmentBytes = segmentBytes
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SpoolError(.io, "cannot create the spool directory \(directory.path): \(error)")
        }
        // Two processes appending to one spool would interleave records: refuse the second.
        let lockPath = directory.appendingPathComponent("lock").path
        // O_CLOEXEC everywhere: a child process the engine spawns must not inherit the flock (it would hold
        // the spool "in use" for as long as it runs) or the segment files.
        lockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0 else { throw SpoolError(.io, "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        guard Self.lock(lockFD) else {
            close(lockFD)
            throw SpoolError(.busy, "the spool at \(directory.path) is in use by another process (a running publisher); stop it first or use another GUARDIAN_SPOOL_DIR")
        }
        let segments = Self.segments(in: directory)
        let saved = Self.readCursor(directory)
        var cursor = saved?.cursor ?? SpoolPosition(segment: segments.first ?? 1, offset: 0)
        let skip = saved?.skip ?? [:]
        if let first = segments.first, cursor.segment < first { cursor = SpoolPosition(segment: first, offset: 0) }
        let last = segments.last ?? cursor.segment
        // Cut off a torn tail of the last segment: everything after its last intact record.
        let lastPath = Self.segmentURL(directory, last).path
        let validEnd = Self.scan(lastPath).lastValidEnd
        let fd = open(lastPath, O_WRONLY | O_CLOEXEC | O_CREAT, 0o644)
        guard fd >= 0 else {
            close(lockFD)
            throw SpoolError(.io, "cannot open \(lastPath): \(String(cString: strerror(errno)))")
        }
        if ftruncate(fd, off_t(validEnd)) != 0 {
            close(fd)
            close(lockFD)
            throw SpoolError(.io, "cannot repair \(lastPath): \(String(cString: strerror(errno)))")
        }
        // A cursor past the surviving data (power lost between a synced cursor and unsynced appends).
        var cursorMoved = false
        if cursor.segment == last && cursor.offset > validEnd {
            cursor.offset = validEnd
            cursorMoved = true
        }
        var bytes = 0
        var corrupt = 0
        for s in segments where s >= cursor.segment {
            let path = Self.segmentURL(directory, s).path
            let size = s == last ? validEnd : Self.fileSize(path)
            bytes += max(0, size - (s == cursor.segment ? cursor.offset : (skip[s] ?? 0)))
            corrupt += Self.scan(path, limit: size, isLast: s == last).corruptSpans
        }
        corruptSpansAtOpen = corrupt
        if cursorMoved, case .failure(let e) = Self.writeCursor(directory, cursor, skip: skip) {
            close(fd)
            close(lockFD)
            throw e
        }
        Self.syncDirectory(directory)
        state = Mutex(State(writeSegment: last, writeOffset: validEnd, writeFD: fd, cursor: cursor, skip: skip, bytes: bytes))
    }

    deinit { release() }

    /// Syncs and closes the files and releases the spool to other processes. Later appends throw.
    public func release() {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            fsync(s.writeFD)
            close(s.writeFD)
        }
        if !lockReleased.exchange(true, ordering: .relaxed) { close(lockFD) }  // releases the flock
    }

    /// Undelivered bytes in the spool.
    public var byteCount: Int { state.withLock { $0.bytes } }
    public var isEmpty: Bool { byteCount == 0 }

    static func encode(key: [UInt8], value: [UInt8]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(2 + key.count + value.count)
        withUnsafeBytes(of: UInt16(key.count).bigEndian) { body.append(contentsOf: $0) }
        body.append(contentsOf: key)
        body.append(contentsOf: value)
        var record: [UInt8] = []
        record.reserveCapacity(8 + body.count)
        withUnsafeBytes(of: UInt32(body.count).bigEndian) { record.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(body).bigEndian) { record.append(contentsOf: $0) }
        record.append(contentsOf: body)
        return record
    }

    /// Puts `records` (oldest first) in front of everything undelivered: for messages that were already
    /// handed to Kafka before the spooled ones, and come back undelivered. With `replacingThrough`, the
    /// spooled records before that position (a round handed to Kafka whose undelivered part is among
    /// `records`) are consumed in the same step: one cursor write, so a crash leaves either the old
    /// spool or the new one. Ignores `maxBytes` (they were accepted before). Synced before it returns.
    public func prepend(_ records: [(key: [UInt8], value: [UInt8])], replacingThrough through: SpoolPosition? = nil) throws(SpoolError) {
        guard !records.isEmpty else {
            if let through { try acknowledge(through: through) }
            return
        }
        var data: [UInt8] = []
        for r in records { data += Self.encode(key: r.key, value: r.value) }
        let directory = self.directory
        let result: Result<Void, SpoolError> = state.withLock { s in
            let segment = min(s.cursor.segment, Self.segments(in: directory).first ?? s.cursor.segment) - 1
            let path = Self.segmentURL(directory, segment).path
            let fd = open(path, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { return .failure(SpoolError(.io, "cannot create \(path): \(String(cString: strerror(errno)))")) }
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            fsync(fd)
            close(fd)
            guard written == data.count else { return .failure(SpoolError(.io, "cannot write \(path)")) }
            // Where the old data resumes after the new segment, and what before it is consumed.
            let resume = through.map { Swift.max($0, s.cursor) } ?? s.cursor
            var consumed = 0
            for seg in s.cursor.segment..<resume.segment {  // wholly consumed: skipped to their end
                let size = Self.fileSize(Self.segmentURL(directory, seg).path)
                consumed += size - (seg == s.cursor.segment ? s.cursor.offset : (s.skip[seg] ?? 0))
                s.skip[seg] = size
            }
            consumed += resume.offset - (resume.segment == s.cursor.segment ? s.cursor.offset : (s.skip[resume.segment] ?? 0))
            if resume.offset > 0 { s.skip[resume.segment] = resume.offset }
            s.cursor = SpoolPosition(segment: segment, offset: 0)
            s.bytes = Swift.max(0, s.bytes + data.count - consumed)
            return Self.writeCursor(directory, s.cursor, skip: s.skip)
        }
        try result.get()
    }

    /// Appends one record. Throws `full` when it would exceed `maxBytes` (nothing is written then).
    public func append(key: [UInt8], value: [UInt8]) throws(SpoolError) {
        let record = Self.encode(key: key, value: value)
        let directory = self.directory, segmentBytes = self.segmentBytes, maxBytes = self.maxBytes, sync = self.sync
        let result: Result<Void, SpoolError> = state.withLock { s in
            if s.closed { return .failure(SpoolError(.io, "the spool at \(directory.path) is closed")) }
            if s.bytes + record.count > maxBytes {
                return .failure(SpoolError(.full, "the spool at \(directory.path) is full (\(s.bytes) of \(maxBytes) bytes)"))
            }
            if s.writeOffset > 0 && s.writeOffset + record.count > segmentBytes {
                fsync(s.writeFD)
                close(s.writeFD)
                s.writeSegment += 1
                s.writeOffset = 0
                s.writeFD = open(Self.segmentURL(directory, s.writeSegment).path, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0o644)
                if s.writeFD < 0 { return .failure(SpoolError(.io, "cannot create a spool segment: \(String(cString: strerror(errno)))")) }
                if sync == .everyRecord { Self.syncDirectory(directory) }  // the new file's name survives power loss
            }
            let written = record.withUnsafeBytes { pwrite(s.writeFD, $0.baseAddress, $0.count, off_t(s.writeOffset)) }
            guard written == record.count else {
                return .failure(SpoolError(.io, "spool write failed: \(String(cString: strerror(errno)))"))
            }
            s.writeOffset += record.count
            s.bytes += record.count
            if sync == .everyRecord { fsync(s.writeFD) } else { s.dirty = true }
            return .success(())
        }
        try result.get()
    }

    /// Forces appended records to disk.
    public func syncToDisk() {
        state.withLock { s in
            if s.dirty && !s.closed {
                fsync(s.writeFD)
                s.dirty = false
            }
            s.lastSync = .now
        }
    }

    /// Syncs when the `interval` policy's interval has passed since the last sync (the publisher calls
    /// it often; it costs nothing in between).
    public func syncIfDue() {
        guard case .interval(let every) = sync else { return }
        let due = state.withLock { ContinuousClock.now - $0.lastSync >= every }
        if due { syncToDisk() }
    }

    /// Up to `max` undelivered records, oldest first, without removing them.
    public func peek(max: Int) throws(SpoolError) -> [SpoolRecord] {
        let (start, endSegment, endOffset) = state.withLock { ($0.cursor, $0.writeSegment, $0.writeOffset) }
        var out: [SpoolRecord] = []
        var pos = start
        let skip = state.withLock { $0.skip }
        while out.count < max && pos < SpoolPosition(segment: endSegment, offset: endOffset) {
            let path = Self.segmentURL(directory, pos.segment).path
            let limit = pos.segment == endSegment ? endOffset : Self.fileSize(path)
            if pos.offset >= limit {
                pos = SpoolPosition(segment: pos.segment + 1, offset: skip[pos.segment + 1] ?? 0)
                continue
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SpoolError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            while out.count < max && pos.offset < limit {
                if let (record, length) = Self.readRecord(fd, at: pos.offset, limit: limit) {
                    pos.offset += length
                    out.append(SpoolRecord(key: record.0, value: record.1, end: pos))
                    continue
                }
                // Damaged: hand the span up to the next intact record out as corrupt, and go on after it.
                let next = Self.nextIntactRecord(fd, after: pos.offset, limit: limit)
                var raw = [UInt8](repeating: 0, count: next - pos.offset)
                _ = raw.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(pos.offset)) }
                pos.offset = next
                out.append(SpoolRecord(key: [], value: raw, end: pos, isCorrupt: true))
            }
        }
        return out
    }

    /// Marks everything before `position` delivered; deletes segments that are entirely delivered.
    public func acknowledge(through position: SpoolPosition) throws(SpoolError) {
        let directory = self.directory
        let done: Result<Void, SpoolError> = state.withLock { s in
            guard s.cursor < position else { return .success(()) }
            var removed = 0
            var seg = s.cursor.segment
            while seg < position.segment {
                let path = Self.segmentURL(directory, seg).path
                removed += Self.fileSize(path) - (seg == s.cursor.segment ? s.cursor.offset : (s.skip[seg] ?? 0))
                unlink(path)
                s.skip[seg] = nil
                seg += 1
            }
            let start = position.segment == s.cursor.segment ? s.cursor.offset : (s.skip[position.segment] ?? 0)
            removed += position.offset - start
            s.skip[position.segment] = nil
            s.cursor = position
            s.bytes = max(0, s.bytes - removed)
            return Self.writeCursor(directory, position, skip: s.skip)
        }
        try done.get()
    }

    /// What a spool directory holds, read without opening (or repairing) it, so it is safe while a
    /// publisher runs: undelivered records and bytes, the oldest undelivered record, dead letters.
    public static func status(directory: URL) -> SpoolStatus {
        var status = SpoolStatus()
        let saved = readCursor(directory)
        let segments = segments(in: directory)
        guard !segments.isEmpty else { return status }
        var cursor = saved?.cursor ?? SpoolPosition(segment: segments[0], offset: 0)
        if cursor.segment < segments[0] { cursor = SpoolPosition(segment: segments[0], offset: 0) }
        for seg in segments where seg >= cursor.segment {
            let path = segmentURL(directory, seg).path
            let size = fileSize(path)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var offset = seg == cursor.segment ? cursor.offset : (saved?.skip[seg] ?? 0)
            while offset < size {
                if let (record, length) = readRecord(fd, at: offset, limit: size) {
                    if status.records == 0 { status.oldestValue = record.1 }
                    status.records += 1
                    status.bytes += length
                    offset += length
                } else {
                    let next = nextIntactRecord(fd, after: offset, limit: size)
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

    // MARK: - Files

    static func segmentURL(_ dir: URL, _ n: Int) -> URL {
        dir.appendingPathComponent(String(format: "segment-%016d.log", n))
    }

    /// Takes the spool's flock, waiting up to a second for it. A child process that any thread of this
    /// process spawns shares the lock's open file until its exec closes it (O_CLOEXEC): for that moment a
    /// lock just released here still looks held. A running publisher holds it for good.
    private static func lock(_ fd: Int32) -> Bool {
        for attempt in 0..<100 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            if errno != EWOULDBLOCK && errno != EINTR { return false }
            if attempt < 99 { usleep(10_000) }
        }
        return false
    }

    static func segments(in dir: URL) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("segment-"), name.hasSuffix(".log") else { return nil }
            return Int(name.dropFirst(8).dropLast(4))
        }.sorted()
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// The cursor file: "SEGMENT OFFSET" on the first line, then "SEGMENT START" lines for skips.
    static func readCursor(_ dir: URL) -> (cursor: SpoolPosition, skip: [Int: Int])? {
        guard let text = try? String(contentsOf: dir.appendingPathComponent("cursor"), encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").map { $0.split(separator: " ").compactMap { Int($0) } }.filter { $0.count == 2 }
        guard let first = lines.first else { return nil }
        var skip: [Int: Int] = [:]
        for l in lines.dropFirst() { skip[l[0]] = l[1] }
        return (SpoolPosition(segment: first[0], offset: first[1]), skip)
    }

    static func writeCursor(_ dir: URL, _ p: SpoolPosition, skip: [Int: Int]) -> Result<Void, SpoolError> {
        let tmp = dir.appendingPathComponent("cursor.tmp").path
        let fd = open(tmp, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return .failure(SpoolError(.io, "cannot write the spool cursor: \(String(cString: strerror(errno)))")) }
        let lines = ["\(p.segment) \(p.offset)"] + skip.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        let n = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard n == text.count, rename(tmp, dir.appendingPathComponent("cursor").path) == 0 else {
            return .failure(SpoolError(.io, "cannot write the spool cursor: \(String(cString: strerror(errno)))"))
        }
        syncDirectory(dir)  // the rename survives power loss
        return .success(())
    }

    /// fsync of the directory itself: makes created, renamed and deleted names durable.
    static func syncDirectory(_ dir: URL) {
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Reads the record at `offset`: ((key, value), total length), or nil if torn or corrupt.
    static func readRecord(_ fd: Int32, at offset: Int, limit: Int) -> (([UInt8], [UInt8]), Int)? {
        guard offset + 8 <= limit else { return nil }
        var header = [UInt8](repeating: 0, count: 8)
        guard header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 8, off_t(offset)) }) == 8 else { return nil }
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        let crc = UInt32(header[4]) << 24 | UInt32(header[5]) << 16 | UInt32(header[6]) << 8 | UInt32(header[7])
        guard length >= 2, offset + 8 + length <= limit else { return nil }
        var body = [UInt8](repeating: 0, count: length)
        guard body.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, length, off_t(offset + 8)) }) == length,
              CRC32.checksum(body) == crc else { return nil }
        let keyLength = Int(UInt16(body[0]) << 8 | UInt16(body[1]))
        guard 2 + keyLength <= length else { return nil }
        return ((Array(body[2..<(2 + keyLength)]), Array(body[(2 + keyLength)...])), 8 + length)
    }

    /// The first offset after `offset` where an intact record starts (its checksum proves it), or `limit`.
    static func nextIntactRecord(_ fd: Int32, after offset: Int, limit: Int) -> Int {
        var candidate = offset + 1
        while candidate + 8 <= limit {
            if readRecord(fd, at: candidate, limit: limit) != nil { return candidate }
            candidate += 1
        }
        return limit
    }

    /// Walks a segment: the end of its last intact record, and how many damaged spans it holds. Bytes
    /// after the last intact record are a torn tail in the last segment (a crash mid-write), damage in
    /// any other.
    static func scan(_ path: String, limit: Int? = nil, isLast: Bool = true) -> (lastValidEnd: Int, corruptSpans: Int) {
        let size = limit ?? fileSize(path)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (0, 0) }
        defer { close(fd) }
        var offset = 0, lastValidEnd = 0, corrupt = 0
        while offset < size {
            if let (_, length) = readRecord(fd, at: offset, limit: size) {
                offset += length
                lastValidEnd = offset
                continue
            }
            let next = nextIntactRecord(fd, after: offset, limit: size)
            if next >= size && isLast { break }  // nothing intact after it: a torn tail
            corrupt += 1
            offset = next
        }
        return (lastValidEnd, corrupt)
    }
}

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

/// CRC-32 (IEEE), for spool records.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}

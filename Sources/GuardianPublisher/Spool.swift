#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GuardianSupport
import Synchronization

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
package final class Spool: Sendable {
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

    package let directory: URL
    package let maxBytes: Int
    package let sync: SpoolSyncPolicy
    package let segmentBytes: Int
    /// Damaged spans found in the undelivered segments when the spool was opened.
    package let corruptSpansAtOpen: Int
    private let state: Mutex<State>
    /// The `lock` file, held (flock) while this spool is open: one process at a time.
    private let lockFD: Int32
    private let lockReleased = Atomic<Bool>(false)

    /// Opens (or creates) the spool in `directory`, recovering what a previous process left.
    package init(directory: URL, maxBytes: Int = 1 << 30, sync: SpoolSyncPolicy = .interval(.milliseconds(100)),
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
        guard SpoolFiles.lock(lockFD) else {
            close(lockFD)
            throw SpoolError(.busy, "the spool at \(directory.path) is in use by another process (a running publisher); stop it first or use another GUARDIAN_SPOOL_DIR")
        }
        let segments = SpoolFiles.segments(in: directory)
        let saved = SpoolFiles.readCursor(directory)
        var cursor = saved?.cursor ?? SpoolPosition(segment: segments.first ?? 1, offset: 0)
        let skip = saved?.skip ?? [:]
        if let first = segments.first, cursor.segment < first { cursor = SpoolPosition(segment: first, offset: 0) }
        let last = segments.last ?? cursor.segment
        // Cut off a torn tail of the last segment: everything after its last intact record.
        let lastPath = SpoolFiles.segmentURL(directory, last).path
        let lastScan = SpoolRecordFormat.scan(lastPath)  // each segment is read once at open
        let validEnd = lastScan.lastValidEnd
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
            let path = SpoolFiles.segmentURL(directory, s).path
            let size = s == last ? validEnd : SpoolFiles.fileSize(path)
            bytes += max(0, size - (s == cursor.segment ? cursor.offset : (skip[s] ?? 0)))
            corrupt += s == last ? lastScan.corruptSpans : SpoolRecordFormat.scan(path, limit: size, isLast: false).corruptSpans
        }
        corruptSpansAtOpen = corrupt
        if cursorMoved, case .failure(let e) = SpoolFiles.writeCursor(directory, cursor, skip: skip) {
            close(fd)
            close(lockFD)
            throw e
        }
        SpoolFiles.syncDirectory(directory)
        state = Mutex(State(writeSegment: last, writeOffset: validEnd, writeFD: fd, cursor: cursor, skip: skip, bytes: bytes))
    }

    deinit { release() }

    /// Syncs and closes the files and releases the spool to other processes. Later appends throw.
    package func release() {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            fsync(s.writeFD)
            close(s.writeFD)
        }
        if !lockReleased.exchange(true, ordering: .relaxed) { close(lockFD) }  // releases the flock
    }

    /// Undelivered bytes in the spool.
    package var byteCount: Int { state.withLock { $0.bytes } }
    package var isEmpty: Bool { byteCount == 0 }

    /// Puts `records` (oldest first) in front of everything undelivered: for messages that were already
    /// handed to Kafka before the spooled ones, and come back undelivered. With `replacingThrough`, the
    /// spooled records before that position (a round handed to Kafka whose undelivered part is among
    /// `records`) are consumed in the same step: one cursor write, so a crash leaves either the old
    /// spool or the new one. Ignores `maxBytes` (they were accepted before). Synced before it returns.
    package func prepend(_ records: [(key: [UInt8], value: [UInt8])], replacingThrough through: SpoolPosition? = nil) throws(SpoolError) {
        guard !records.isEmpty else {
            if let through { try acknowledge(through: through) }
            return
        }
        var data: [UInt8] = []
        for r in records { data += SpoolRecordFormat.encode(key: r.key, value: r.value) }
        let directory = self.directory
        let result: Result<Void, SpoolError> = state.withLock { s in
            let segment = min(s.cursor.segment, SpoolFiles.segments(in: directory).first ?? s.cursor.segment) - 1
            let path = SpoolFiles.segmentURL(directory, segment).path
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
                let size = SpoolFiles.fileSize(SpoolFiles.segmentURL(directory, seg).path)
                consumed += size - (seg == s.cursor.segment ? s.cursor.offset : (s.skip[seg] ?? 0))
                s.skip[seg] = size
            }
            consumed += resume.offset - (resume.segment == s.cursor.segment ? s.cursor.offset : (s.skip[resume.segment] ?? 0))
            if resume.offset > 0 { s.skip[resume.segment] = resume.offset }
            s.cursor = SpoolPosition(segment: segment, offset: 0)
            s.bytes = Swift.max(0, s.bytes + data.count - consumed)
            return SpoolFiles.writeCursor(directory, s.cursor, skip: s.skip)
        }
        try result.get()
    }

    /// Appends one record. Throws `full` when it would exceed `maxBytes` (nothing is written then).
    package func append(key: [UInt8], value: [UInt8]) throws(SpoolError) {
        let record = SpoolRecordFormat.encode(key: key, value: value)
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
                s.writeFD = open(SpoolFiles.segmentURL(directory, s.writeSegment).path, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0o644)
                if s.writeFD < 0 { return .failure(SpoolError(.io, "cannot create a spool segment: \(String(cString: strerror(errno)))")) }
                if sync == .everyRecord { SpoolFiles.syncDirectory(directory) }  // the new file's name survives power loss
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
    package func syncToDisk() {
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
    package func syncIfDue() {
        guard case .interval(let every) = sync else { return }
        let due = state.withLock { ContinuousClock.now - $0.lastSync >= every }
        if due { syncToDisk() }
    }

    /// Up to `max` undelivered records, oldest first, without removing them.
    package func peek(max: Int) throws(SpoolError) -> [SpoolRecord] {
        let (start, endSegment, endOffset) = state.withLock { ($0.cursor, $0.writeSegment, $0.writeOffset) }
        var out: [SpoolRecord] = []
        var pos = start
        let skip = state.withLock { $0.skip }
        while out.count < max && pos < SpoolPosition(segment: endSegment, offset: endOffset) {
            let path = SpoolFiles.segmentURL(directory, pos.segment).path
            let limit = pos.segment == endSegment ? endOffset : SpoolFiles.fileSize(path)
            if pos.offset >= limit {
                pos = SpoolPosition(segment: pos.segment + 1, offset: skip[pos.segment + 1] ?? 0)
                continue
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SpoolError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            while out.count < max && pos.offset < limit {
                if let (record, length) = SpoolRecordFormat.readRecord(fd, at: pos.offset, limit: limit) {
                    pos.offset += length
                    out.append(SpoolRecord(key: record.0, value: record.1, end: pos))
                    continue
                }
                // Damaged: hand the span up to the next intact record out as corrupt, and go on after it.
                let next = SpoolRecordFormat.nextIntactRecord(fd, after: pos.offset, limit: limit)
                var raw = [UInt8](repeating: 0, count: next - pos.offset)
                _ = raw.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(pos.offset)) }
                pos.offset = next
                out.append(SpoolRecord(key: [], value: raw, end: pos, isCorrupt: true))
            }
        }
        return out
    }

    /// Marks everything before `position` delivered; deletes segments that are entirely delivered.
    package func acknowledge(through position: SpoolPosition) throws(SpoolError) {
        let directory = self.directory
        let done: Result<Void, SpoolError> = state.withLock { s in
            guard s.cursor < position else { return .success(()) }
            var removed = 0
            var seg = s.cursor.segment
            while seg < position.segment {
                let path = SpoolFiles.segmentURL(directory, seg).path
                removed += SpoolFiles.fileSize(path) - (seg == s.cursor.segment ? s.cursor.offset : (s.skip[seg] ?? 0))
                unlink(path)
                s.skip[seg] = nil
                seg += 1
            }
            let start = position.segment == s.cursor.segment ? s.cursor.offset : (s.skip[position.segment] ?? 0)
            removed += position.offset - start
            s.skip[position.segment] = nil
            s.cursor = position
            s.bytes = max(0, s.bytes - removed)
            return SpoolFiles.writeCursor(directory, position, skip: s.skip)
        }
        try done.get()
    }
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The spool directory's files: segment files `segment-NNNNNNNNNNNNNNNN.log`, the `cursor` file (the
/// delivered position and per-segment skips), the `lock` file, and the syncs that make them durable.
enum SpoolFiles {
    static func segmentURL(_ dir: URL, _ n: Int) -> URL {
        dir.appendingPathComponent(String(format: "segment-%016d.log", n))
    }

    /// Takes the spool's flock, waiting up to a second for it. A child process that any thread of this
    /// process spawns shares the lock's open file until its exec closes it (O_CLOEXEC): for that moment a
    /// lock just released here still looks held. A running publisher holds it for good.
    static func lock(_ fd: Int32) -> Bool {
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
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How one spool record is laid out on disk, and how records are found again after damage:
/// `[length u32][crc32 u32][key length u16][key][value]`, big-endian, the checksum over what follows
/// the header.
enum SpoolRecordFormat {
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
        let size = limit ?? SpoolFiles.fileSize(path)
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

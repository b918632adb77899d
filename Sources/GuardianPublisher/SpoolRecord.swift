/// One spooled record and the position just after it.
package struct SpoolRecord: Sendable {
    package var key: [UInt8]
    package var value: [UInt8]
    package var end: SpoolPosition
    /// True for a damaged span (its checksum fails): `value` holds its raw bytes, `key` is empty. It is
    /// never sent; the publisher sets it aside in its dead-letter file and goes on with what follows.
    package var isCorrupt = false

    package init(key: [UInt8], value: [UInt8], end: SpoolPosition, isCorrupt: Bool = false) {
        self.key = key
        self.value = value
        self.end = end
        self.isCorrupt = isCorrupt
    }
}

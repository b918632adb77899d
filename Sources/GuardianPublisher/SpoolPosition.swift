/// A position in the spool: segment number and byte offset.
package struct SpoolPosition: Sendable, Comparable, Equatable {
    package var segment: Int
    package var offset: Int
    package static func < (a: SpoolPosition, b: SpoolPosition) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
}

/// A position in the spool: segment number and byte offset.
public struct SpoolPosition: Sendable, Comparable, Equatable {
    public var segment: Int
    public var offset: Int
    public static func < (a: SpoolPosition, b: SpoolPosition) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
}

/// A Redis reply.
public enum RedisValue: Sendable, Equatable, CustomStringConvertible {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null
    /// An error reply (e.g. `WRONGTYPE …`). In a pipeline it is returned in place; `command` throws it.
    case error(String)

    /// The value as text, for bulk strings and status replies.
    public var string: String? {
        switch self {
        case .string(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The value as an integer, for integer replies and numeric strings.
    public var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .string, .status: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array reply.
    public var array: [RedisValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var description: String {
        switch self {
        case .string(let b): return "\"\(String(decoding: b, as: UTF8.self))\""
        case .status(let s): return s
        case .integer(let i): return "(integer) \(i)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .null: return "(nil)"
        case .error(let e): return "(error) \(e)"
        }
    }
}

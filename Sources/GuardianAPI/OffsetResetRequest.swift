import Foundation
import GuardianOperations

/// The body of `POST /v1/offsets/reset`, the flags of `guardian offsets reset` as JSON: exactly one of
/// `to_earliest: true`, `to_latest: true`, `to_datetime: "<RFC 3339>"`, `shift_by: <n>`,
/// `to_offset: {"<partition>": <offset>, …}`; optional `partitions: [<n>, …]`, `group` (default the
/// API's `--group`) and `execute` (default false: a dry run).
struct OffsetResetRequest: Sendable, Equatable {
    var target: OffsetResetPlan.Target
    var partitions: Set<Int32>?
    var group: String?
    var execute: Bool

    static let targetNames = ["to_earliest", "to_latest", "to_datetime", "shift_by", "to_offset"]

    init(target: OffsetResetPlan.Target, partitions: Set<Int32>? = nil, group: String? = nil, execute: Bool = false) {
        self.target = target
        self.partitions = partitions
        self.group = group
        self.execute = execute
    }

    private struct Body: Decodable {
        var to_earliest: Bool?
        var to_latest: Bool?
        var to_datetime: String?
        var shift_by: Int64?
        var to_offset: [String: Int64]?
        var partitions: [Int32]?
        var group: String?
        var execute: Bool?
    }

    /// Parses a request body; a problem naming the field at fault otherwise.
    init(json data: Data) throws(APIProblem) {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw APIProblem.badParameter("body", "a JSON object such as {\"to_latest\": true, \"execute\": false}")
        }
        let known = Set(Self.targetNames + ["partitions", "group", "execute"])
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIProblem.badParameter(unknown, "not a field of this request (fields: \(known.sorted().joined(separator: ", ")))")
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch let DecodingError.typeMismatch(_, context) {
            throw Self.wrongType(context)
        } catch let DecodingError.valueNotFound(_, context) {
            throw Self.wrongType(context)
        } catch let DecodingError.dataCorrupted(context) {
            throw Self.wrongType(context)
        } catch {
            throw APIProblem.badParameter("body", "not a valid request: \(error)")
        }
        let given = Self.targetNames.filter { object[$0] != nil }
        guard given.count == 1, let name = given.first else {
            throw APIProblem.badParameter("body", "give exactly one of \(Self.targetNames.joined(separator: ", "))")
        }
        switch name {
        case "to_earliest":
            guard body.to_earliest == true else { throw APIProblem.badParameter(name, "true") }
            target = .earliest
        case "to_latest":
            guard body.to_latest == true else { throw APIProblem.badParameter(name, "true") }
            target = .latest
        case "to_datetime":
            guard let text = body.to_datetime, let micros = JSONDocument.micros(text) else {
                throw APIProblem.badParameter(name, "an RFC 3339 time such as 2026-12-02T14:00:00Z")
            }
            target = .datetime(micros / 1000)
        case "shift_by":
            guard let n = body.shift_by else { throw APIProblem.badParameter(name, "an integer (negative: back)") }
            target = .shiftBy(n)
        default:
            guard let map = body.to_offset, !map.isEmpty else {
                throw APIProblem.badParameter(name, "an object of partition to offset, such as {\"0\": 1200, \"3\": 0}")
            }
            var offsets: [Int32: Int64] = [:]
            for (key, offset) in map {
                guard let p = Int32(key), p >= 0, offset >= 0 else {
                    throw APIProblem.badParameter(name, "'\(key)' must be a partition number and its offset an integer ≥ 0")
                }
                offsets[p] = offset
            }
            target = .offsets(offsets)
        }
        if let list = body.partitions {
            guard !list.isEmpty, list.allSatisfy({ $0 >= 0 }) else {
                throw APIProblem.badParameter("partitions", "a non-empty array of partition numbers")
            }
            partitions = Set(list)
        } else {
            partitions = nil
        }
        if let g = body.group, g.range(of: "^[A-Za-z0-9._-]{1,249}$", options: .regularExpression) == nil {
            throw APIProblem.badParameter("group", "a consumer group name (1-249 of A-Z a-z 0-9 . _ -)")
        }
        group = body.group
        execute = body.execute ?? false
    }

    private static func wrongType(_ context: DecodingError.Context) -> APIProblem {
        let field = context.codingPath.first?.stringValue ?? "body"
        let expected = [
            "to_earliest": "true", "to_latest": "true", "to_datetime": "an RFC 3339 time", "shift_by": "an integer",
            "to_offset": "an object of partition to integer offset", "partitions": "an array of partition numbers",
            "group": "a consumer group name", "execute": "true or false",
        ][field] ?? "valid JSON"
        return APIProblem.badParameter(field, expected)
    }
}

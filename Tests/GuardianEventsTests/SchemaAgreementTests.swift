import Foundation
import GuardianEvents
import Testing

/// The decoder and `schemas/guardian-event.v1.schema.json` agree: for every property the schema
/// declares, a value of each JSON type is accepted by the decoder exactly when the schema allows it.
@Suite struct SchemaAgreementTests {
    static let schemaURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("schemas/guardian-event.v1.schema.json")

    struct Schema {
        let required: Set<String>
        let properties: [String: [String: Any]]
    }

    func loadSchema() throws -> Schema {
        let data = try Data(contentsOf: Self.schemaURL)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        // A schema without these would let every check below pass on nothing.
        let required = try #require(root["required"] as? [String], "the schema lists its required fields")
        let properties = try #require(root["properties"] as? [String: [String: Any]], "the schema declares its properties")
        try #require(properties.count >= required.count && !required.isEmpty)
        return Schema(required: Set(required), properties: properties)
    }

    /// A valid event as a JSON object (Foundation types).
    func validObject() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(sampleJSON.utf8)) as? [String: Any])
    }

    func accepted(_ object: [String: Any]) throws -> Bool {
        let data = try JSONSerialization.data(withJSONObject: object)
        if case .success = EventDecoder().decode(Array(data)) { return true }
        return false
    }

    @Test func requiredFieldsAgree() throws {
        let schema = try loadSchema()
        #expect(schema.required == ["v", "event_id", "symbol", "seq", "ts", "kind"])
        for name in schema.properties.keys {
            var object = try validObject()
            object.removeValue(forKey: name)
            #expect(try accepted(object) == !schema.required.contains(name), "without '\(name)'")
        }
    }

    @Test func enumsAgree() throws {
        let schema = try loadSchema()
        for (name, property) in schema.properties {
            guard let values = property["enum"] as? [Any] else { continue }
            for value in values {
                var object = try validObject()
                object[name] = value
                #expect(try accepted(object), "\(name) = \(value)")
            }
            var object = try validObject()
            object[name] = "not-in-the-enum"
            #expect(try !accepted(object), "\(name) = not-in-the-enum")
        }
        #expect(schema.properties["kind"]?["enum"] as? [String] == EventKind.allCases.map(\.rawValue))
    }

    @Test func typesAgree() throws {
        let schema = try loadSchema()
        for (name, property) in schema.properties {
            let types: Set<String> = (property["type"] as? [String]).map(Set.init) ?? [property["type"] as? String ?? ""]
            // A value of each JSON type that satisfies the property's other rules when its type is allowed.
            let enumValues = property["enum"] as? [Any]
            let candidates: [(String, Any)] = [
                ("string", enumValues?.first(where: { $0 is String }) ?? Self.validString(for: name)),
                ("integer", name == "v" ? 1 : 7),
                ("number", 7.25),
                ("boolean", true),
                ("null", NSNull()),
                ("object", ["k": 1]),
                ("array", [1]),
            ]
            for (jsonType, value) in candidates {
                var object = try validObject()
                object[name] = value
                let allowed = types.contains(jsonType) || (jsonType == "integer" && types.contains("number"))
                #expect(try accepted(object) == allowed, "\(name) as \(jsonType) (schema: \(types.sorted()))")
            }
        }
    }

    @Test func symbolLengthAndPatternAgree() throws {
        let schema = try loadSchema()
        let symbol = try #require(schema.properties["symbol"])
        #expect(symbol["maxLength"] as? Int == SymbolRule.maxLength)
        let pattern = try #require(symbol["pattern"] as? String)
        let regex = try NSRegularExpression(pattern: pattern)
        for candidate in ["A", String(repeating: "Z", count: 64), String(repeating: "Z", count: 65), "BRK.B", "ES:H6", "a b", "é", "x/y-z_1", "", "\"q"] {
            let matches = regex.firstMatch(in: candidate, range: NSRange(candidate.startIndex..., in: candidate)) != nil
            #expect(SymbolRule.isValid(utf8: Array(candidate.utf8)) == matches, "'\(candidate)'")
        }
    }

    static func validString(for name: String) -> String {
        switch name {
        case "event_id": return "123e4567-e89b-42d3-a456-426614174000"
        case "symbol": return "AAPL"
        default: return "text"
        }
    }
}

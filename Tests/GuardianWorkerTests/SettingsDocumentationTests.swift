import Foundation
import Testing

/// README's configuration table against `guardian settings`, the command line's one table of every
/// environment variable it reads: neither may list a setting the other lacks, or disagree on a flag or
/// a default.
@Suite struct SettingsDocumentationTests {
    struct Row { var variables: [String]; var flags: String; var defaultText: String }

    static func readmeRows() throws -> [Row] {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "| variable | flag | default | meaning |"), "README: the configuration table")
        let end = text.range(of: "\n\n", range: start.upperBound..<text.endIndex)?.lowerBound ?? text.endIndex
        return text[start.upperBound..<end].split(separator: "\n").dropFirst().compactMap { line -> Row? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 5 else { return nil }
            let names = cells[1].split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            return Row(variables: names, flags: cells[2], defaultText: cells[3])
        }
    }

    static func settings() throws -> [[String]] {
        let bin = ProcessInfo.processInfo.environment["GUARDIAN_BIN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/guardian").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["settings", "--tsv"]
        p.environment = [:]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
    }

    @Test func theReadmeTableAndGuardianSettingsListTheSameSettings() throws {
        let rows = try Self.readmeRows()
        let settings = try Self.settings()
        #expect(settings.count > 30, "guardian settings listed \(settings.count)")
        var problems: [String] = []
        for s in settings {
            let (variable, flag, defaultValue) = (s[0], s[1], s[2])
            guard let row = rows.first(where: { r in
                r.variables.contains(variable) || r.variables.contains { $0.hasSuffix("*") && variable.hasPrefix($0.dropLast()) }
            }) else {
                problems.append("\(variable) is missing from README")
                continue
            }
            if flag != "-" && !row.flags.contains(flag) { problems.append("\(variable): README's flag column lacks \(flag)") }
            if defaultValue != "-" && !row.defaultText.contains(defaultValue) {
                problems.append("\(variable): README's default '\(row.defaultText)' is not \(defaultValue)")
            }
        }
        let known = Set(settings.map { $0[0] })
        for r in rows {
            for v in r.variables where !v.hasSuffix("*") && v.allSatisfy({ $0.isUppercase || $0 == "_" }) && !known.contains(v) {
                problems.append("README lists \(v), which no command reads")
            }
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func secretsAreNeverPrinted() throws {
        let bin = ProcessInfo.processInfo.environment["GUARDIAN_BIN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ".build/debug/guardian"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["settings"]
        p.environment = ["REDIS_PASSWORD": "s3cret-redis", "KAFKA_SASL_PASSWORD": "s3cret-sasl",
                         "TIMESCALEDB_URI": "postgresql://app:s3cret-pg@db:5432/guardian",
                         "GUARDIAN_ALERT_WEBHOOK_URL": "https://hooks.example/s3cret-hook", "GUARDIAN_TOPIC": "visible-topic"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(!text.contains("s3cret"), "\(text)")
        #expect(text.contains("visible-topic") && text.contains("postgresql://app:***@db:5432/guardian"), "\(text)")
    }
}

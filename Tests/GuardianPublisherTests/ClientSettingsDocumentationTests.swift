import Foundation
import GuardianKafka
@testable import GuardianPublisher
import Testing

/// README's "Client defaults" paragraph against the code: every default and every safety setting a
/// client sets is listed there as `key=value`, so the two cannot drift apart.
@Suite struct ClientSettingsDocumentationTests {
    func paragraph() throws -> String {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let start = try #require(text.range(of: "Client defaults ("), "README: the client defaults paragraph")
        let end = text.range(of: "\n\n", range: start.upperBound..<text.endIndex)?.lowerBound ?? text.endIndex
        return String(text[start.lowerBound..<end]).replacingOccurrences(of: "\n", with: " ")
    }

    @Test func everyClientDefaultAndSafetySettingIsInTheReadme() throws {
        let text = try paragraph()
        let settings = KafkaConsumer.defaultProperties.merging(KafkaConsumer.enforcedProperties) { a, _ in a }
            .merging(KafkaProducer.defaultProperties) { a, _ in a }
            .merging(PublisherConfiguration().producerProperties) { a, _ in a }
            .merging(PublisherConfiguration.enforcedProducerProperties) { a, _ in a }
        var missing: [String] = []
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) where !text.contains("`\(key)=\(value)`") {
            missing.append("\(key)=\(value)")
        }
        #expect(missing.isEmpty, "README's client defaults paragraph lacks: \(missing)")
    }
}

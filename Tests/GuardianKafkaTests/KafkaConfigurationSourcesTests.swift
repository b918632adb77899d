import GuardianKafka
import Testing

/// Kafka properties from a file and from `KAFKA_*` variables, in the order they win, and secrets kept
/// out of every message.
@Suite struct KafkaConfigurationSourcesTests {
    @Test func fileThenEnvironmentThenFlagsEachLaterSourceWins() throws {
        let file = """
            # managed Kafka, SASL over TLS
            security.protocol = SASL_SSL
            sasl.mechanism=SCRAM-SHA-512
            sasl.username=from-file
            sasl.password=p=with=equals

            client.id=file
            """
        let parsed = try KafkaConfiguration.parseProperties(fileContents: file, path: "client.properties")
        #expect(parsed["security.protocol"] == "SASL_SSL" && parsed["sasl.password"] == "p=with=equals" && parsed.count == 5)
        #expect(KafkaConfiguration.properties(fromEnvironment: [
            "KAFKA_SASL_USERNAME": "from-env", "KAFKA_SSL_CA_LOCATION": "/etc/ca.pem", "KAFKA_HEAP_OPTS": "-Xmx1g", "KAFKA_SASL_PASSWORD": "",
        ]) == ["sasl.username": "from-env", "ssl.ca.location": "/etc/ca.pem"], "only the documented variables; empty ones ignored")
    }

    @Test func aBadLineIsRefusedWithoutEchoingIt() {
        let error = #expect(throws: KafkaError.self) {
            try KafkaConfiguration.parseProperties(fileContents: "sasl.password hunter2", path: "p.properties")
        }
        #expect(error?.message.contains("p.properties line 1") == true && error?.message.contains("hunter2") == false)
    }

    @Test func librdkafkaRejectingASecretPropertyNeverPrintsItsValue() {
        #expect(KafkaConfiguration.isSecret("sasl.password") && KafkaConfiguration.isSecret("ssl.key.password")
                && KafkaConfiguration.isSecret("sasl.oauthbearer.client.secret") && !KafkaConfiguration.isSecret("sasl.username"))
        // An unknown property named like a secret: librdkafka rejects it; the message names it, not its value.
        let c = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["no.such.password": "hunter2"])
        let error = #expect(throws: KafkaError.self) { _ = try KafkaAdmin(configuration: c) }
        #expect(error?.message.contains("no.such.password=***") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
    }
}

import Foundation

/// Where librdkafka properties come from besides `--kafka` (visible in `ps`, shell history and pod
/// specs, so no place for secrets): a properties file (a Kubernetes Secret mounted as a file, or a
/// git-ignored local file) and `KAFKA_`-prefixed environment variables. Pure: the caller passes the
/// environment, so library configuration stays plain values.
extension KafkaConfiguration {
    /// The environment variables read, and the librdkafka property each sets.
    public static let environmentProperties: [(variable: String, property: String)] = [
        ("KAFKA_SECURITY_PROTOCOL", "security.protocol"),
        ("KAFKA_SASL_MECHANISM", "sasl.mechanism"),
        ("KAFKA_SASL_USERNAME", "sasl.username"),
        ("KAFKA_SASL_PASSWORD", "sasl.password"),
        ("KAFKA_SSL_CA_LOCATION", "ssl.ca.location"),
        ("KAFKA_SSL_CERTIFICATE_LOCATION", "ssl.certificate.location"),
        ("KAFKA_SSL_KEY_LOCATION", "ssl.key.location"),
        ("KAFKA_SSL_KEY_PASSWORD", "ssl.key.password"),
        ("KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "ssl.endpoint.identification.algorithm"),
        ("KAFKA_CLIENT_ID", "client.id"),
    ]

    /// The variable naming a librdkafka properties file.
    public static let propertiesFileVariable = "GUARDIAN_KAFKA_PROPERTIES_FILE"

    /// Properties set by `KAFKA_*` variables in `environment` (empty values ignored).
    public static func properties(fromEnvironment environment: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (variable, property) in environmentProperties {
            if let v = environment[variable], !v.isEmpty { out[property] = v }
        }
        return out
    }

    /// Parses librdkafka `key=value` lines (Java-properties style as librdkafka's examples use: blank
    /// lines and `#` comments ignored, the value is everything after the first `=`, trimmed).
    public static func parseProperties(fileContents text: String, path: String) throws(KafkaError) -> [String: String] {
        var out: [String: String] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "="), eq != line.startIndex else {
                // The line is not echoed: it may hold a secret.
                throw KafkaError(.configuration, "\(path) line \(n + 1) is not key=value")
            }
            out[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// Reads the properties file at `path`.
    public static func properties(fromFile path: String) throws(KafkaError) -> [String: String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw KafkaError(.configuration, "cannot read the Kafka properties file \(path) (\(propertiesFileVariable)): \(error.localizedDescription)")
        }
        return try parseProperties(fileContents: text, path: path)
    }

    /// A configuration from an environment, as every `guardian` command and an engine embedding the
    /// publisher build it: `KAFKA_BOOTSTRAP_SERVERS`, then the properties file
    /// (`GUARDIAN_KAFKA_PROPERTIES_FILE` or `propertiesFile`), then `KAFKA_*` variables, then `overrides`
    /// (`--kafka`) — each later source wins.
    public static func resolve(
        environment: [String: String], bootstrapServers: String? = nil, propertiesFile: String? = nil,
        overrides: [String: String] = [:]
    ) throws(KafkaError) -> KafkaConfiguration {
        var properties: [String: String] = [:]
        if let path = propertiesFile ?? environment[propertiesFileVariable].flatMap({ $0.isEmpty ? nil : $0 }) {
            properties = try Self.properties(fromFile: path)
        }
        for (k, v) in Self.properties(fromEnvironment: environment) { properties[k] = v }
        for (k, v) in overrides { properties[k] = v }
        let servers = bootstrapServers ?? properties.removeValue(forKey: "bootstrap.servers")
            ?? environment["KAFKA_BOOTSTRAP_SERVERS"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:9092"
        return KafkaConfiguration(bootstrapServers: servers, properties: properties)
    }

    /// True for properties whose values are secrets: never printed, whatever the log level.
    public static func isSecret(_ key: String) -> Bool {
        let k = key.lowercased()
        return k.contains("password") || k.contains("secret") || k.hasSuffix(".pem") || k == "sasl.oauthbearer.config"
            || k.contains("token")
    }

    /// `key=value` for messages, with a secret value replaced by `***`.
    static func describe(_ key: String, _ value: String) -> String {
        "\(key)=\(isSecret(key) ? "***" : value)"
    }
}

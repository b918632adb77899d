import Foundation
import GuardianTestSupport
import Testing

/// deploy/ is what operators apply: every YAML and JSON file there must parse, and every metric name its
/// alert rules, dashboard and scalers query must be one the code exports.
@Suite struct DeployManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Metric names registered through swift-metrics in Sources/; timers and recorders are Prometheus
    /// histograms, so their `_bucket`, `_sum` and `_count` series exist too.
    static func exportedMetricNames() throws -> Set<String> {
        var names = Set<String>()
        let pattern = try Regex(#"(Counter|Gauge|Timer|Recorder|Meter|FloatingPointCounter)\(label: "(guardian_[a-z0-9_]+)""#)
        let files = FileManager.default.enumerator(at: root.appendingPathComponent("Sources"), includingPropertiesForKeys: nil)!
        for case let url as URL in files where url.pathExtension == "swift" {
            let text = try String(contentsOf: url, encoding: .utf8)
            for m in text.matches(of: pattern) {
                guard let kind = m.output[1].substring, let name = m.output[2].substring.map(String.init) else { continue }
                names.insert(name)
                if kind == "Timer" || kind == "Recorder" { for s in ["_bucket", "_sum", "_count"] { names.insert(name + s) } }
            }
        }
        return names
    }

    /// Parses a YAML file (all its documents) with Python's yaml module, a JSON file with Foundation.
    static func documents(_ url: URL) async throws -> [Any] {
        if url.pathExtension == "json" {
            return [try JSONSerialization.jsonObject(with: try Data(contentsOf: url))]
        }
        let r = try await ChildProcess.run(
            "/usr/bin/python3",
            ["-c", "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))", url.path],
            environment: ProcessInfo.processInfo.environment, timeout: .seconds(60))
        #expect(r.status == 0 && !r.timedOut, "\(url.lastPathComponent) does not parse as YAML: \(r.stderr)")
        return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [Any]) ?? []
    }

    /// Every string under a key named `expr` or `query` (PromQL), anywhere in `value`.
    static func queries(in value: Any, key: String? = nil) -> [String] {
        switch value {
        case let d as [String: Any]: return d.flatMap { queries(in: $0.value, key: $0.key) }
        case let a as [Any]: return a.flatMap { queries(in: $0, key: key) }
        case let s as String where key == "expr" || key == "query": return [s]
        default: return []
        }
    }

    static func manifests() -> [URL] {
        let files = FileManager.default.enumerator(at: root.appendingPathComponent("deploy"), includingPropertiesForKeys: nil)!
        return files.compactMap { $0 as? URL }.filter { ["yaml", "yml", "json"].contains($0.pathExtension) }.sorted { $0.path < $1.path }
    }

    @Test func everyManifestParsesAndEveryMetricItQueriesIsExported() async throws {
        let exported = try Self.exportedMetricNames()
        #expect(exported.contains("guardian_consumer_lag_seconds") && exported.contains("guardian_db_write_seconds_bucket"))
        let files = Self.manifests()
        #expect(files.count >= 9, "\(files.map(\.lastPathComponent))")
        var used: [String: String] = [:]
        for file in files {
            let docs = try await Self.documents(file)
            #expect(!docs.isEmpty, "\(file.lastPathComponent) is empty")
            for q in docs.flatMap({ Self.queries(in: $0) }) {
                for m in q.matches(of: /guardian_[a-z0-9_]+/) { used[String(m.output)] = file.lastPathComponent }
            }
        }
        #expect(used.count >= 15, "the alert rules and the dashboard query the fleet's metrics: \(used.keys.sorted())")
        for (name, file) in used.sorted(by: { $0.key < $1.key }) {
            let isExported = exported.contains(name)
            #expect(isExported, "\(file) uses \(name), which no code exports")
        }
    }

    /// `promtool test rules` (Debian's prometheus) on deploy/prometheus/alerts.test.yml: every alert of
    /// alerts.yml is tested firing (with its rendered summary) and staying quiet without its condition.
    @Test func everyAlertRuleFiresOnItsConditionAndStaysQuietWithout() async throws {
        let rules = Self.root.appendingPathComponent("deploy/prometheus/alerts.yml")
        let tests = Self.root.appendingPathComponent("deploy/prometheus/alerts.test.yml")
        let env = ProcessInfo.processInfo.environment
        let check = try await ChildProcess.run("/usr/bin/promtool", ["check", "rules", rules.path], environment: env, timeout: .seconds(60))
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let run = try await ChildProcess.run("/usr/bin/promtool", ["test", "rules", tests.path], environment: env, timeout: .seconds(120))
        #expect(run.status == 0 && run.stdout.contains("SUCCESS"), "\(run.stdout)\(run.stderr)")
        // Each alert has a test where it fires (exp_alerts) and one where it does not.
        let names = try String(contentsOf: rules, encoding: .utf8).matches(of: try Regex(#"- alert: (\w+)"#)).compactMap { $0.output[1].substring.map(String.init) }
        let text = try String(contentsOf: tests, encoding: .utf8)
        #expect(names.count == 9)
        for name in names {
            let cases = text.components(separatedBy: "alertname: \(name)\n").dropFirst()
            #expect(cases.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("exp_alerts:") }, "\(name) is never tested firing")
            #expect(cases.contains { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("exp_alerts:") }, "\(name) is never tested quiet")
        }
    }

    @Test func theWorkerDeploymentDrainsWithinItsGracePeriodAndIsReadyOnReadyz() async throws {
        let docs = try await Self.documents(Self.root.appendingPathComponent("deploy/kubernetes/worker-deployment.yaml"))
        let spec = try #require(((docs.first as? [String: Any])?["spec"] as? [String: Any])?["template"] as? [String: Any])["spec"] as? [String: Any]
        let grace = try #require(spec?["terminationGracePeriodSeconds"] as? Int)
        #expect(grace > 20 + 10, "longer than the in-flight write's 20 s plus leaving the group")
        let container = try #require((spec?["containers"] as? [[String: Any]])?.first)
        #expect(((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/readyz")
        let pdb = try await Self.documents(Self.root.appendingPathComponent("deploy/kubernetes/worker-pdb.yaml")).first as? [String: Any]
        #expect(pdb?["kind"] as? String == "PodDisruptionBudget")
        let scaled = try await Self.documents(Self.root.appendingPathComponent("deploy/kubernetes/worker-scaledobject.yaml")).first as? [String: Any]
        #expect((scaled?["spec"] as? [String: Any])?["maxReplicaCount"] as? Int == 12, "no more workers than the topic's 12 partitions")
    }

    /// Credentials live in Secrets: no ConfigMap holds a password or a URI with one, and no container
    /// gets a secret as a plain `value`.
    @Test func noSecretSitsInAConfigMapOrAPlainEnvValue() async throws {
        var configMaps = 0
        for file in Self.manifests() where file.path.contains("/kubernetes/") {
            for case let doc as [String: Any] in try await Self.documents(file) {
                if doc["kind"] as? String == "ConfigMap" {
                    configMaps += 1
                    for (k, v) in doc["data"] as? [String: String] ?? [:] {
                        #expect(!k.uppercased().contains("PASSWORD") && !k.uppercased().contains("SECRET"), "\(file.lastPathComponent): \(k)")
                        #expect(v.firstMatch(of: /:\/\/[^\/@]*:[^\/@]*@/) == nil, "\(file.lastPathComponent): \(k) holds a URI with a password")
                    }
                }
                for env in Self.envEntries(doc) {
                    let name = (env["name"] as? String ?? "").uppercased()
                    if name.contains("PASSWORD") || name.hasSuffix("_URI") {
                        #expect(env["value"] == nil && env["valueFrom"] != nil, "\(file.lastPathComponent): \(name) must come from a Secret")
                    }
                }
            }
        }
        #expect(configMaps >= 1)
    }

    static func envEntries(_ value: Any, key: String? = nil) -> [[String: Any]] {
        switch value {
        case let d as [String: Any]: return d.flatMap { envEntries($0.value, key: $0.key) }
        case let a as [Any]:
            if key == "env" { return a.compactMap { $0 as? [String: Any] } }
            return a.flatMap { envEntries($0, key: key) }
        default: return []
        }
    }
}

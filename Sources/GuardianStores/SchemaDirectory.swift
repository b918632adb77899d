import Foundation

/// Finds the `schemas/` folder holding `migrations/*.sql` and `policies.sql`.
public enum SchemaDirectory {
    /// `explicit` (flag or `GUARDIAN_SCHEMAS_DIR`) when given; otherwise the first of: `./schemas`,
    /// a `schemas` folder above the running executable (a checkout's `.build/…/guardian`),
    /// `/opt/guardian/schemas` (the container image), `/usr/share/guardian/schemas`.
    public static func locate(explicit: String? = nil) throws(StoreError) -> URL {
        let fm = FileManager.default
        func valid(_ url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent("migrations").path) }
        if let explicit {
            let url = URL(fileURLWithPath: explicit)
            guard valid(url) else { throw StoreError(.schemaFiles, "\(explicit) has no migrations/ folder: point --schemas-dir at the project's schemas/") }
            return url
        }
        var candidates = [URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("schemas")]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("schemas"))
            dir = dir.deletingLastPathComponent()
        }
        candidates += [URL(fileURLWithPath: "/opt/guardian/schemas"), URL(fileURLWithPath: "/usr/share/guardian/schemas")]
        if let found = candidates.first(where: valid) { return found }
        throw StoreError(.schemaFiles, "no schemas/ folder found (looked in \(candidates.map(\.path).joined(separator: ", "))); pass --schemas-dir or set GUARDIAN_SCHEMAS_DIR")
    }
}

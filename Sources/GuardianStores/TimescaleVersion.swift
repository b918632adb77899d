/// The oldest TimescaleDB the fleet accepts, and why.
public enum TimescaleVersion {
    /// TimescaleDB before 2.18.1 has timescale/timescaledb#7672: `INSERT … ON CONFLICT DO NOTHING`
    /// stops at the first duplicate lying in a compressed chunk, so a replayed batch older than the
    /// compression age would be partly dropped while the worker counts the rest as duplicates and
    /// commits their offsets — silent loss.
    public static let minimum = [2, 18, 1]

    /// Throws a migration error naming the bug when `version` (like `2.17.2`) is older than `minimum`.
    public static func check(_ version: String) throws(StoreError) {
        let parts = version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
        let padded = parts + Array(repeating: 0, count: max(0, 3 - parts.count))
        guard padded.lexicographicallyPrecedes(minimum) else { return }
        throw StoreError(.migration, """
            TimescaleDB \(version) is too old: versions before 2.18.1 drop rows when a replayed batch meets a \
            duplicate in a compressed chunk (INSERT … ON CONFLICT DO NOTHING stops early; timescale/timescaledb#7672), \
            and the worker would commit past them. Upgrade the extension (ALTER EXTENSION timescaledb UPDATE) to 2.18.1 or later.
            """)
    }
}

import GuardianPostgres

/// Reads `guardian_checkpoints`: per partition, the next offset after everything the fleet made
/// durable (written in the same transaction as each batch). Used when Kafka's committed offsets
/// are unusable, so consumption resumes from the newest durable state instead of skipping ahead.
public struct Checkpoints: Sendable {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// The checkpoint of each partition of `topic` that has one.
    public func read(topic: String) async throws -> [Int32: Int64] {
        let rows = try await connection.query(
            "SELECT partition, next_offset FROM guardian_checkpoints WHERE topic = $1", [topic]).rows
        var out: [Int32: Int64] = [:]
        for r in rows {
            if let p = r[0].flatMap({ Int32($0) }), let o = r[1].flatMap({ Int64($0) }) { out[p] = o }
        }
        return out
    }

    /// Lowers checkpoints to `offsets` (partition → next offset) where they are ahead, so a group whose
    /// offsets were moved back re-reads from there instead of skipping to the checkpoint (workers skip
    /// what is durable). Never raises one. Returns the partitions lowered.
    @discardableResult
    public func lower(topic: String, to offsets: [Int32: Int64]) async throws -> [Int32] {
        guard !offsets.isEmpty else { return [] }
        let values = offsets.map { "(\($0.key), \($0.value))" }.joined(separator: ", ")
        let rows = try await connection.query("""
            UPDATE guardian_checkpoints c SET next_offset = v.next_offset, updated_at = now()
            FROM (VALUES \(values)) AS v(partition, next_offset)
            WHERE c.topic = $1 AND c.partition = v.partition AND c.next_offset > v.next_offset
            RETURNING c.partition
            """, [topic]).rows
        return rows.compactMap { $0[0].flatMap { Int32($0) } }.sorted()
    }
}

import GuardianPostgres

/// Reads and lowers `guardian_checkpoints`: per consumer group and partition, the next offset after
/// everything that group made durable (written in the same transaction as each of its batches), and
/// the offset the group had committed to Kafka as of that write. Used when a partition is assigned:
/// to resume a group whose committed offsets are unusable from its own newest durable state, and to
/// skip what it wrote but had not committed yet. Never another group's: their durable state says
/// nothing about what this group stored.
public struct Checkpoints: Sendable {
    /// One partition's checkpoint of one group.
    public struct Entry: Sendable, Equatable {
        /// The next offset after everything the group made durable.
        public var nextOffset: Int64
        /// The offset the group had committed to Kafka when it wrote `nextOffset`, if known.
        public var committedOffset: Int64?

        public init(nextOffset: Int64, committedOffset: Int64? = nil) {
            self.nextOffset = nextOffset
            self.committedOffset = committedOffset
        }
    }

    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// The checkpoint of each partition of `topic` that `group` has one for.
    public func read(group: String, topic: String) async throws -> [Int32: Entry] {
        let rows = try await connection.query(
            "SELECT partition, next_offset, committed_offset FROM guardian_checkpoints WHERE group_id = $1 AND topic = $2",
            [group, topic]).rows
        var out: [Int32: Entry] = [:]
        for r in rows {
            if let p = r[0].flatMap({ Int32($0) }), let o = r[1].flatMap({ Int64($0) }) {
                out[p] = Entry(nextOffset: o, committedOffset: r[2].flatMap { Int64($0) })
            }
        }
        return out
    }

    /// After `group`'s offsets were moved to `offsets` (partition → next offset): lowers its checkpoints
    /// where they are ahead, so its workers re-read from there instead of skipping back to them, and
    /// records the new offsets as the group's committed ones. Never raises a checkpoint. Returns the
    /// partitions lowered.
    @discardableResult
    public func lower(group: String, topic: String, to offsets: [Int32: Int64]) async throws -> [Int32] {
        guard !offsets.isEmpty else { return [] }
        let partitions = offsets.keys.sorted()
        let rows = try await connection.query("""
            WITH v AS (SELECT * FROM unnest($3::int[], $4::bigint[]) AS v(partition, next_offset)),
                 old AS (SELECT c.partition, c.next_offset AS was FROM guardian_checkpoints c JOIN v USING (partition)
                         WHERE c.group_id = $1 AND c.topic = $2)
            UPDATE guardian_checkpoints c
            SET next_offset = LEAST(c.next_offset, v.next_offset), committed_offset = v.next_offset, updated_at = now()
            FROM v JOIN old USING (partition)
            WHERE c.group_id = $1 AND c.topic = $2 AND c.partition = v.partition
            RETURNING c.partition, old.was > v.next_offset
            """, [group, topic, "{\(partitions.map(String.init).joined(separator: ","))}",
                  "{\(partitions.map { String(offsets[$0]!) }.joined(separator: ","))}"]).rows
        return rows.filter { $0[1] == "t" }.compactMap { $0[0].flatMap { Int32($0) } }.sorted()
    }
}

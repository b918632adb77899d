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
        /// Raised each time `offsets reset` lowered the checkpoint; a write moves it only in the epoch it read.
        public var epoch: Int64
        /// The digest (`KafkaMessage.recordDigest`) of the record at `nextOffset - 1`, checked against the
        /// log before the checkpoint is honoured; nil in rows written before migration 0008.
        public var lastRecord: Int64?

        public init(nextOffset: Int64, committedOffset: Int64? = nil, epoch: Int64 = 0, lastRecord: Int64? = nil) {
            self.nextOffset = nextOffset
            self.committedOffset = committedOffset
            self.epoch = epoch
            self.lastRecord = lastRecord
        }
    }

    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    /// The checkpoint of each partition of `topic` that `group` has one for.
    public func read(group: String, topic: String) async throws -> [Int32: Entry] {
        let rows = try await connection.query(
            """
            SELECT partition, next_offset, committed_offset, epoch, last_record FROM guardian_checkpoints
            WHERE group_id = $1 AND topic = $2
            """, [group, topic]).rows
        var out: [Int32: Entry] = [:]
        for r in rows {
            if let p = r[0].flatMap({ Int32($0) }), let o = r[1].flatMap({ Int64($0) }) {
                out[p] = Entry(nextOffset: o, committedOffset: r[2].flatMap { Int64($0) }, epoch: r[3].flatMap { Int64($0) } ?? 0,
                               lastRecord: r[4].flatMap { Int64($0) })
            }
        }
        return out
    }

    /// After `group`'s offsets were moved to `offsets` (partition → next offset): lowers its checkpoints
    /// where they are ahead, so its workers re-read from there instead of skipping back to them, and
    /// records the new offsets as the group's committed ones. Never raises a checkpoint; a partition
    /// without one gets one at its new offset. Raises the epoch of every row, so a write by a worker
    /// assigned before the reset (a member thrown out of the group whose write lands late) cannot raise
    /// the checkpoint again. A lowered checkpoint forgets its record digest (it no longer names the
    /// record before it). Returns the partitions lowered.
    @discardableResult
    public func lower(group: String, topic: String, to offsets: [Int32: Int64]) async throws -> [Int32] {
        guard !offsets.isEmpty else { return [] }
        let partitions = offsets.keys.sorted()
        let rows = try await connection.query("""
            WITH v AS (SELECT * FROM unnest($3::int[], $4::bigint[]) AS v(partition, next_offset)),
                 old AS (SELECT partition, next_offset AS was FROM guardian_checkpoints WHERE group_id = $1 AND topic = $2),
                 up AS (
                    INSERT INTO guardian_checkpoints AS c (group_id, topic, partition, next_offset, committed_offset, epoch)
                    SELECT $1, $2, v.partition, v.next_offset, v.next_offset, 1 FROM v
                    ON CONFLICT (group_id, topic, partition) DO UPDATE
                    SET last_record = CASE WHEN c.next_offset > EXCLUDED.next_offset THEN NULL ELSE c.last_record END,
                        next_offset = LEAST(c.next_offset, EXCLUDED.next_offset), committed_offset = EXCLUDED.next_offset,
                        epoch = c.epoch + 1, updated_at = now()
                    RETURNING partition)
            SELECT v.partition, COALESCE(old.was > v.next_offset, false) FROM v JOIN up USING (partition) LEFT JOIN old USING (partition)
            """, [group, topic, "{\(partitions.map(String.init).joined(separator: ","))}",
                  "{\(partitions.map { String(offsets[$0]!) }.joined(separator: ","))}"]).rows
        return rows.filter { $0[1] == "t" }.compactMap { $0[0].flatMap { Int32($0) } }.sorted()
    }
}

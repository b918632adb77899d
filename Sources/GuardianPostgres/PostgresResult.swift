/// The rows of a query in text format, plus the command's affected-row count.
public struct PostgresResult: Sendable {
    /// Column names in order.
    public var columns: [String]
    /// Each row's values as text (`nil` for SQL NULL).
    public var rows: [[String?]]
    /// Rows inserted, updated, deleted or copied, as reported in the command tag (0 when none).
    public var affectedRows: Int

    public init(columns: [String] = [], rows: [[String?]] = [], affectedRows: Int = 0) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    /// The first column of the first row, when there is one.
    public var scalar: String? { rows.first?.first ?? nil }
}

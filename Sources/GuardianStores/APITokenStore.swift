import Foundation
import GuardianPostgres

/// One row of `guardian_api_tokens` (migration 0009): a bearer token of `guardian api`, by name, with
/// its scope and the SHA-256 of its secret part (the token itself is never stored).
public struct APITokenRecord: Sendable, Equatable {
    public var name: String
    /// `read` or `operate`.
    public var scope: String
    /// The public part of the token, which finds its row.
    public var tokenID: String
    public var secretSHA256: [UInt8]
    /// RFC 3339.
    public var createdAt: String
    public var revokedAt: String?

    public var isRevoked: Bool { revokedAt != nil }
}

/// `guardian_api_tokens`: create, list, revoke, find. Hashing and comparison are the caller's
/// (`GuardianAPI.APITokens`): the secret never reaches the database, not even as a parameter.
public struct APITokenStore: Sendable {
    public let connection: PostgresConnection

    public init(connection: PostgresConnection) {
        self.connection = connection
    }

    private static let columns = """
        name, scope, token_id, encode(secret_sha256, 'hex'), to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        """

    /// Records a token. A name in use by a token that is not revoked is refused; a revoked one is replaced.
    public func insert(name: String, scope: String, tokenID: String, secretSHA256: [UInt8]) async throws -> Bool {
        let hex = secretSHA256.map { String(format: "%02x", $0) }.joined()
        let r = try await connection.query("""
            INSERT INTO guardian_api_tokens AS t (name, scope, token_id, secret_sha256) VALUES ($1, $2, $3, decode($4, 'hex'))
            ON CONFLICT (name) DO UPDATE SET scope = EXCLUDED.scope, token_id = EXCLUDED.token_id,
                secret_sha256 = EXCLUDED.secret_sha256, created_at = now(), last_used_at = NULL, revoked_at = NULL
            WHERE t.revoked_at IS NOT NULL
            RETURNING name
            """, [name, scope, tokenID, hex])
        return !r.rows.isEmpty
    }

    /// Every token, revoked ones too, by name.
    public func list() async throws -> [APITokenRecord] {
        try await connection.query("SELECT \(Self.columns) FROM guardian_api_tokens ORDER BY name").rows.compactMap(Self.record)
    }

    /// Revokes the token called `name`; false when there is none that is not revoked already.
    public func revoke(name: String) async throws -> Bool {
        let r = try await connection.query(
            "UPDATE guardian_api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING name", [name])
        return !r.rows.isEmpty
    }

    /// The token whose public part is `tokenID`.
    public func find(tokenID: String) async throws -> APITokenRecord? {
        try await connection.query("SELECT \(Self.columns) FROM guardian_api_tokens WHERE token_id = $1", [tokenID]).rows
            .compactMap(Self.record).first
    }

    private static func record(_ r: [String?]) -> APITokenRecord? {
        guard let name = r[0], let scope = r[1], let id = r[2], let hex = r[3], let created = r[4] else { return nil }
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex, let j = hex.index(i, offsetBy: 2, limitedBy: hex.endIndex), let b = UInt8(hex[i..<j], radix: 16) {
            bytes.append(b)
            i = j
        }
        return APITokenRecord(name: name, scope: scope, tokenID: id, secretSHA256: bytes, createdAt: created, revokedAt: r[5])
    }
}

import Crypto
import GuardianStores
import GuardianSupport
import Synchronization

/// Who a request is, once its bearer token is verified.
public struct APIIdentity: Sendable, Equatable {
    public enum Scope: String, Sendable, CaseIterable {
        /// Every GET.
        case read
        /// GETs and operations (offsets reset).
        case operate
    }

    public var name: String
    public var scope: Scope
}

/// Bearer tokens: `gft_<id>_<secret>` (12 and 64 hex digits). Only the SHA-256 of the secret is stored
/// (`guardian_api_tokens`); a presented token's id finds its row, and the hashes are compared in
/// constant time. A verified token is trusted for `cacheTTL` (a revoke takes effect within it).
public final class APITokens: Sendable {
    private struct Cached {
        var record: APITokenRecord?
        var fetched: ContinuousClock.Instant
    }

    private let pool: DatabasePool
    private let cacheTTL: Duration
    private let cache = Mutex<[String: Cached]>([:])

    init(pool: DatabasePool, cacheTTL: Duration) {
        self.pool = pool
        self.cacheTTL = cacheTTL
    }

    /// A new token's text and the parts stored of it.
    public struct Issued: Sendable {
        public var token: String
        public var tokenID: String
        public var secretSHA256: [UInt8]
    }

    /// Makes a new random token (the system's cryptographic generator).
    public static func issue() -> Issued {
        var rng = SystemRandomNumberGenerator()
        let id = (0..<6).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let secretHex = hex(secret)
        return Issued(token: "gft_\(hex(id))_\(secretHex)", tokenID: hex(id), secretSHA256: sha256(secretHex))
    }

    /// Creates the token called `name` in `store` and returns its text (shown once, never stored).
    /// Throws when a token of that name exists and is not revoked.
    public static func create(name: String, scope: APIIdentity.Scope, in store: APITokenStore) async throws -> String {
        let issued = issue()
        guard try await store.insert(name: name, scope: scope.rawValue, tokenID: issued.tokenID, secretSHA256: issued.secretSHA256) else {
            throw APITokenError("a token called '\(name)' exists and is not revoked: `guardian api token revoke --name \(name)` first")
        }
        return issued.token
    }

    /// The identity of `authorization` (an `Authorization` header value), nil when it is not a valid,
    /// unrevoked token.
    func verify(authorization: String?) async throws -> APIIdentity? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let token = authorization.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces)
        let parts = token.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "gft", parts[1].count == 12, parts[2].count == 64,
              (parts[1] + parts[2]).allSatisfy(\.isHexDigit)
        else { return nil }
        let id = String(parts[1])
        let now = ContinuousClock.now
        let record: APITokenRecord?
        if let hit = cache.withLock({ $0[id] }), now - hit.fetched < cacheTTL {
            record = hit.record
        } else {
            record = try await pool.run { try await APITokenStore(connection: $0).find(tokenID: id) }
            cache.withLock { $0[id] = Cached(record: record, fetched: now) }
        }
        guard let record, !record.isRevoked, let scope = APIIdentity.Scope(rawValue: record.scope),
              Self.constantTimeEqual(Self.sha256(String(parts[2])), record.secretSHA256)
        else { return nil }
        return APIIdentity(name: record.name, scope: scope)
    }

    static func sha256(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }

    /// True when `a == b`, in time that depends only on the length.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// A token could not be created.
public struct APITokenError: GuardianError {
    public let message: String
    public var code: String { "api.token" }
    public init(_ message: String) { self.message = message }
}

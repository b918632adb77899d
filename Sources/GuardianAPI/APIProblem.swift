import Foundation
import GuardianOperations
import Hummingbird

/// An error answered as RFC 9457 problem details (`application/problem+json`): a status, a short
/// title, and a detail a user can act on (naming the parameter at fault).
public struct APIProblem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let title: String
    public let detail: String
    /// Seconds, for 429.
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ title: String, _ detail: String, retryAfter: Int? = nil) {
        self.status = status
        self.title = title
        self.detail = detail
        self.retryAfter = retryAfter
    }

    /// An operation's refusal: a group with running members is 409, a bad argument 400, the brokers
    /// or the database failing 502, a timeout 504.
    init(operation error: OperationError) {
        switch error.kind {
        case .groupActive: self.init(.conflict, "group active", error.message)
        case .invalidArgument: self.init(.badRequest, "invalid parameter", error.message)
        case .timeout: self.init(.gatewayTimeout, "timeout", error.message)
        case .kafka, .database: self.init(.badGateway, "upstream failed", error.message)
        }
    }

    static func badParameter(_ name: String, _ why: String) -> APIProblem {
        APIProblem(.badRequest, "invalid parameter", "\(name): \(why)")
    }

    static let unauthorized = APIProblem(.unauthorized, "unauthorized",
                                         "send a token of `guardian api token create` as Authorization: Bearer <token>")

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: Any] = ["type": "about:blank", "title": title, "status": Int(status.code), "detail": detail,
                                   "instance": request.uri.path]
        if let retryAfter { body["retry_after"] = retryAfter }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = #"Bearer realm="guardian""# }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

import GuardianPostgres
import Hummingbird
import Logging

/// Every error a handler throws becomes problem details: an `APIProblem` as it is; the database
/// refusing a value (SQLSTATE class 22) 400; the database unreachable 503 with `Retry-After`; anything
/// else 500, logged with the request — never a bare 500 or a dropped connection.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            throw error
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            throw APIProblem(.badRequest, "invalid parameter", "a value is out of the database's range: \(error.message)")
        } catch let error as PostgresError where error.isConnectionFailure || error.kind == .connect {
            logger.warning("the database is unreachable", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw APIProblem(.serviceUnavailable, "database unavailable", "the database does not answer; retry shortly", retryAfter: 2)
        } catch {
            logger.error("request failed", metadata: ["method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)"])
            throw APIProblem(.internalServerError, "internal error", "the request failed unexpectedly; the API's log has the details")
        }
    }
}

import Hummingbird
import Logging

/// Serves the operations console (`console/`: static HTML, CSS and JavaScript, no build step) at `/`,
/// with a Content-Security-Policy that lets the page load nothing from elsewhere. API paths never
/// touch the file system.
struct ConsoleFiles<Context: RequestContext>: RouterMiddleware {
    private let files: FileMiddleware<Context, LocalFileSystem>

    init(directory: String, logger: Logger) {
        files = FileMiddleware(directory, searchForIndexHtml: true, logger: logger)
    }

    static var policy: String {
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard !path.hasPrefix("/v1/"), path != "/metrics", path != "/healthz", path != "/readyz", path != "/health" else {
            return try await next(request, context)
        }
        var response = try await files.handle(request, context: context, next: next)
        if response.status == .ok || response.status == .notModified {
            response.headers[.contentSecurityPolicy] = Self.policy
            response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        }
        return response
    }
}

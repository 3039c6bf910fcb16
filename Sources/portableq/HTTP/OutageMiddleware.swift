import Backends
import Foundation
import Hummingbird

/// Reports what requests learn about the database to the process's `OutageLog`: a request that
/// failed with `UNAVAILABLE` (the 503 the client gets) and one that succeeded through the
/// database. Paths that never reach the database (the dashboard shell, the OpenAPI document)
/// say nothing about it, and `/health` answers its 503 itself (`OutageWatch` notices that outage).
struct OutageMiddleware: RouterMiddleware {
    typealias Context = AdminContext
    let outage: OutageLog

    static func reachesDatabase(_ path: String) -> Bool {
        !(path == "/" || path == "/index.html" || path.hasPrefix("/assets/") || path == "/favicon.ico" || path == "/openapi.json")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            if response.status.code < 300, OutageMiddleware.reachesDatabase(request.uri.path) { outage.succeeded() }
            return response
        } catch let e as PortableError where e.code == .unavailable {
            outage.failed(e, doing: "\(request.method) \(request.uri.path)")
            throw e
        }
    }
}

import Backends
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Every error becomes the JSON error body with its status (and `Retry-After` on 429/503);
/// nothing is ever a bare 500 with a stack trace. Unknown routes are JSON 404s.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AdminContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as PortableError {
            if e.code == .backend || e.code == .schemaTooNew || e.code == .schemaTooOld {
                // The log keeps what the response never carries: the failing statement.
                logger.error("request failed", metadata: ["path": .string(request.uri.path), "error": .string(e.debugDescription)])
            }
            return HTTP.error(e)
        } catch let e as HTTPError where e.status.code == 404 || e.status.code == 405 {
            // A known path with another method is 405 with Allow; anything else 404.
            if let allowed = RouteTable.methods(for: request.uri.path), !allowed.isEmpty,
               !allowed.contains(request.method.rawValue) {
                var r = HTTP.error(PortableError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); use \(allowed.joined(separator: ", "))"))
                r.headers[.allow] = allowed.joined(separator: ", ")
                return r
            }
            return HTTP.error(PortableError(.notFound, "no route \(request.method) \(request.uri.path)"))
        } catch let e as HTTPError {
            let code: PortableError.Code
            switch e.status.code {
            case 404: code = .notFound
            case 405: code = .notFound
            case 413: code = .payloadTooLarge
            case 400: code = .badRequest
            case 401: code = .unauthorized
            default: code = .invalidArgument
            }
            let msg = e.status.code == 404 || e.status.code == 405 ? "no route \(request.method) \(request.uri.path)" : (e.body ?? e.status.reasonPhrase)
            return HTTP.error(PortableError(code, msg))
        } catch is CancellationError {
            return HTTP.error(PortableError(.unavailable, "the server is shutting down"))
        } catch {
            logger.error("request failed", metadata: ["path": .string(request.uri.path), "error": .string("\(error)")])
            return HTTP.error(PortableError(.backend, "internal error"))
        }
    }
}

/// `API_TOKEN`: every endpoint but `/health` and the dashboard's static shell needs
/// `x-api-key: TOKEN` or `Authorization: Bearer TOKEN`, compared in constant time.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = AdminContext
    let token: [UInt8]

    static func isPublic(_ request: Request) -> Bool {
        guard request.method == .get || request.method == .head else { return false }
        let p = request.uri.path
        return p == "/health" || ProbeRoutes.paths.contains(p) || p == "/" || p == "/index.html" || p.hasPrefix("/assets/") || p == "/favicon.ico"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var presented: String?
        if let k = request.headers[.init("x-api-key")!] {
            presented = k
        } else if let a = request.headers[.authorization], a.lowercased().hasPrefix("bearer ") {
            presented = String(a.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        }
        var context = context
        context.presentedToken = presented.map { AuthMiddleware.constantTimeEqual(Array($0.utf8), token) } ?? false
        if AuthMiddleware.isPublic(request) || context.presentedToken { return try await next(request, context) }
        throw PortableError(.unauthorized, presented == nil
            ? "this server needs a token: send x-api-key: TOKEN or Authorization: Bearer TOKEN"
            : "the token is not valid")
    }

    /// Compares every byte of the longer input, so timing says nothing about where they differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return diff == 0
    }
}

/// `HTTP_RATE_LIMIT_PER_MINUTE`: POSTs per client IP in a sliding minute (in this process).
/// GETs are never limited.
final class RateLimitMiddleware: RouterMiddleware, Sendable {
    typealias Context = AdminContext
    let limit: Int
    private let hits = Mutex<[String: [Date]]>([:])

    init(limit: Int) { self.limit = limit }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post else { return try await next(request, context) }
        let ip = context.remoteAddress?.ipAddress ?? "unknown"
        let now = Date()
        let retryAfter: Double? = hits.withLock { h in
            var list = h[ip, default: []].filter { now.timeIntervalSince($0) < 60 }
            if list.count >= limit {
                h[ip] = list
                return max(1, 60 - now.timeIntervalSince(list[0]))
            }
            list.append(now)
            h[ip] = list
            if h.count > 10_000 { h = h.filter { !$0.value.isEmpty && now.timeIntervalSince($0.value.last!) < 60 } }
            return nil
        }
        if let retryAfter {
            throw PortableError(.rateLimited, "more than \(limit) POST requests per minute from \(ip) (HTTP_RATE_LIMIT_PER_MINUTE)",
                                retryAfter: retryAfter)
        }
        return try await next(request, context)
    }
}

/// The methods each route pattern answers, for 405 answers (`:x` matches one segment).
enum RouteTable {
    nonisolated(unsafe) static var routes: [(pattern: [String], method: String)] = []

    static func register(_ method: String, _ path: String) {
        routes.append((path.split(separator: "/").map(String.init), method))
    }

    static func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "/").map(String.init)
        let matching = routes.filter { r in
            r.pattern.count == segments.count && zip(r.pattern, segments).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
        }
        // The most specific patterns win: /jobs/batch is not /jobs/:id.
        let literals = { (r: (pattern: [String], method: String)) in r.pattern.filter { !$0.hasPrefix(":") }.count }
        guard let best = matching.map(literals).max() else { return nil }
        var methods = Set(matching.filter { literals($0) == best }.map(\.method))
        if methods.contains("GET") { methods.insert("HEAD") }
        return methods.sorted()
    }
}

extension Router where Context == AdminContext {
    /// Adds a route and records it for 405 answers. `query` names the query parameters it takes;
    /// any other is a 422 that lists them.
    func route(_ method: HTTPRequest.Method, _ path: String, query: [String] = [],
               _ handler: @Sendable @escaping (Request, AdminContext) async throws -> Response) {
        RouteTable.register(method.rawValue, path)
        let checked: @Sendable (Request, AdminContext) async throws -> Response = { request, context in
            for (name, _) in request.uri.queryParameters where !query.contains(String(name)) {
                throw PortableError.invalid("unknown query parameter \(JSON.quote(String(name))) for \(method) \(path) ("
                    + (query.isEmpty ? "it takes none)" : "it takes \(query.joined(separator: ", ")))"))
            }
            return try await handler(request, context)
        }
        on(RouterPath(path), method: method, use: checked)
        if method == .get {
            // HEAD is GET without the body.
            on(RouterPath(path), method: .head) { request, context in
                var r = try await checked(request, context)
                r.body = .init()
                return r
            }
        }
    }
}

import Backends
import Foundation
import Hummingbird

/// Health, queues, workers, decisions, metrics, the OpenAPI document and the dashboard.
struct SystemRoutes {
    let client: PortableClient
    let startedAt: Date
    /// With a token, `/health` tells only callers that present it why the database is down.
    let tokenConfigured: Bool

    func add(to router: Router<AdminContext>) {
        router.route(.get, "/health") { _, context in try await health(details: context.presentedToken || !tokenConfigured) }
        router.route(.get, "/queues", query: ListQuery.names) { request, _ in
            let q = try ListQuery(request, defaultLimit: 1000)
            let queues = try await client.queues()
            let now = try await client.databaseNow()
            return HTTP.json(q.page(queues).json { $0.json(now: now) })
        }
        router.route(.get, "/workers", query: ListQuery.names) { request, _ in
            let q = try ListQuery(request, defaultLimit: 1000)
            let (workers, now) = try await client.workers()
            return HTTP.json(q.page(workers).json { $0.json(now: now) })
        }
        router.route(.get, "/ingest/decisions", query: ListQuery.names) { request, _ in
            let q = try ListQuery(request, defaultLimit: 100)
            return HTTP.json(try await client.decisions(.ingest, limit: q.limit, offset: q.offset).json { $0.json })
        }
        router.route(.get, "/policy/decisions", query: ListQuery.names) { request, _ in
            let q = try ListQuery(request, defaultLimit: 100)
            return HTTP.json(try await client.decisions(.policy, limit: q.limit, offset: q.offset).json { $0.json })
        }
        router.route(.get, "/metrics") { _, _ in HTTP.json(try await client.metrics().json) }
        router.route(.get, "/metrics/history", query: ["days", "queue"]) { request, _ in
            var days = 7
            if let d = request.query("days") {
                guard let v = Int(d), (1...TotalsReport.maxDays).contains(v) else {
                    throw PortableError.invalid("days must be between 1 and \(TotalsReport.maxDays)")
                }
                days = v
            }
            return HTTP.json(try await client.totals(queue: request.query("queue"), days: days).json)
        }
        router.route(.get, "/metrics/prom") { _, _ in
            let cluster = try await client.clusterFigures()
            return HTTP.text(ClusterExposition.text(cluster) + ProcessExport.text, contentType: ClusterExposition.contentType)
        }
        router.route(.get, "/openapi.json") { _, _ in HTTP.json(OpenAPIDocument.document) }
        router.route(.get, "/") { _, _ in HTTP.text(DashboardAssets.indexHTML, contentType: "text/html; charset=utf-8") }
        router.route(.get, "/index.html") { _, _ in HTTP.text(DashboardAssets.indexHTML, contentType: "text/html; charset=utf-8") }
        router.route(.get, "/assets/app.js") { _, _ in HTTP.text(DashboardAssets.appJS, contentType: "text/javascript; charset=utf-8") }
        router.route(.get, "/favicon.ico") { _, _ in HTTP.text(SystemRoutes.favicon, contentType: "image/svg+xml") }
        router.route(.get, "/assets/app.css") { _, _ in HTTP.text(DashboardAssets.appCSS, contentType: "text/css; charset=utf-8") }
    }

    static let favicon = ##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d2433"/><path d="M4 5h8M4 8h8M4 11h5" stroke="#7cc4ff" stroke-width="1.6"/></svg>"##

    /// 200 when the database answers; 503 with `Retry-After` when it does not (the server stays up).
    /// Why it is down (a message without SQL or password, naming the server) only with `details`.
    func health(details: Bool) async throws -> Response {
        var fields: [(String, JSON)] = [
            ("backend", .string(client.backend.rawValue)),
            ("version", .string(PortableqVersion.string)),
            ("uptime_seconds", .int(Int(Date().timeIntervalSince(startedAt)))),
        ]
        do {
            let status = try await Database.status(client)
            fields.insert(("status", .string("ok")), at: 0)
            fields.append(("database", .string("up")))
            fields.append(("schema_version", .int(status.databaseVersion)))
            return HTTP.json(.object(fields))
        } catch {
            let e = PortableError.wrap(error)
            fields.insert(("status", .string("unavailable")), at: 0)
            fields.append(("database", .string("down")))
            if details { fields.append(("error", .string(e.message))) }
            return HTTP.json(.object(fields), status: .serviceUnavailable, headers: [.retryAfter: "5"])
        }
    }
}

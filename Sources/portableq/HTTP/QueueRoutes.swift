import Backends
import Foundation
import Hummingbird

/// Queue policies, schedules and maintenance runs.
struct QueueRoutes {
    let client: PortableClient

    func add(to router: Router<AdminContext>) {
        router.route(.post, "/queues/:name/pause") { _, context in HTTP.json(try await client.pause(try name(context)).json) }
        router.route(.post, "/queues/:name/resume") { _, context in HTTP.json(try await client.resume(try name(context)).json) }
        router.route(.post, "/queues/:name/policy") { request, context in
            let f = try Fields(try await request.jsonBody(context))
            var running: Int?? = nil
            var rate: Double?? = nil
            if f.object.contains(where: { $0.0 == "max_running" }) { running = .some(try f.int("max_running")) }
            if f.object.contains(where: { $0.0 == "max_starts_per_second" }) { rate = .some(try f.double("max_starts_per_second")) }
            func has(_ k: String) -> Bool { f.object.contains { $0.0 == k } }
            let keyFrom: String?? = has("concurrency_key_from") ? .some(try f.string("concurrency_key_from")) : nil
            let perKey: Int?? = has("max_running_per_key") ? .some(try f.int("max_running_per_key")) : nil
            let perKeyRate: Double?? = has("max_starts_per_second_per_key") ? .some(try f.double("max_starts_per_second_per_key")) : nil
            let queue = try name(context)
            // Checked whole before anything is stored, so a bad field changes nothing.
            if let v = keyFrom ?? nil { try KeyedClaim.checkField(v) }
            if let v = perKey ?? nil, v < 0 { throw PortableError.invalid("max_running_per_key must not be negative") }
            if let v = perKeyRate ?? nil, !(v > 0 && v <= 1_000_000) {
                throw PortableError.invalid("max_starts_per_second_per_key must be above 0 and at most 1000000")
            }
            var p = try await client.setQueueLimits(queue, maxRunning: running, maxStartsPerSecond: rate)
            if keyFrom != nil || perKey != nil || perKeyRate != nil {
                p = try await client.setKeyLimits(queue, concurrencyKeyFrom: keyFrom, maxRunningPerKey: perKey,
                                                  maxStartsPerSecondPerKey: perKeyRate)
            }
            return HTTP.json(p.json)
        }
        router.route(.post, "/queues/:name/purge") { request, context in
            // The body is optional; when given it must be JSON.
            let bytes = try await request.bodyBytes(upTo: 65_536, tooLarge: "a purge body is a small JSON object (at most 64 KiB)")
            var dryRun = false
            if bytes.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) {
                dryRun = try Fields(try JSON.parse(bytes: bytes)).bool("dry_run") ?? false
            }
            let n = try await client.purge(try name(context), dryRun: dryRun)
            return HTTP.json(.object([("matched", .int(n)), ("changed", .int(dryRun ? 0 : n))]))
        }
        router.route(.get, "/schedules", query: ListQuery.names) { request, _ in
            let q = try ListQuery(request, defaultLimit: 1000)
            let list = try await client.schedules()
            let now = try await client.databaseNow()
            return HTTP.json(q.page(list).json { $0.json(now: now) })
        }
        router.route(.post, "/schedules") { request, context in
            let f = try Fields(try await request.jsonBody(context))
            guard let n = try f.string("name"), let cron = try f.string("cron"), let type = try f.string("job_type") else {
                throw PortableError.invalid("name, cron and job_type are required")
            }
            let payload = f.object.first(where: { $0.0 == "payload_json" })?.1 ?? .null
            let s = try await client.addSchedule(Schedule(name: n, cron: cron, queue: try f.string("queue") ?? "default",
                                                          jobType: type, payload: payload.compact, priority: try f.int("priority") ?? 0,
                                                          maxAttempts: try f.int("max_attempts"),
                                                          timeoutSeconds: try f.int("timeout_seconds"),
                                                          timezone: try f.string("timezone") ?? "UTC"))
            let now = try await client.databaseNow()
            return HTTP.json(s.json(now: now), status: .created)
        }
        router.route(.delete, "/schedules/:name") { _, context in
            let n = try name(context)
            try await client.removeSchedule(n)
            return HTTP.json(.object([("deleted", .bool(true)), ("name", .string(n))]))
        }
        router.route(.post, "/schedules/:name/run") { _, context in
            let r = try await client.runScheduleNow(try name(context))
            return HTTP.json(r.json, status: .created)
        }
        router.route(.get, "/maintenance/runs", query: ["limit"]) { request, _ in
            let q = try ListQuery(request, defaultLimit: 50)
            let runs = try await client.maintenanceRuns(limit: q.limit)
            return HTTP.json(Page(items: runs, total: runs.count, totalCapped: false).json { $0.json })
        }
    }

    func name(_ context: AdminContext) throws -> String {
        guard let n = context.parameters.get("name") else { throw PortableError.invalid("missing name") }
        try Names.check(n, "name")
        return n
    }
}

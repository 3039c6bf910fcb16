import Backends
import Foundation
import Hummingbird

/// `/jobs`, `/dlq`, bulk actions.
struct JobRoutes {
    let client: PortableClient

    func add(to router: Router<AdminContext>) {
        router.route(.get, "/jobs", query: ["status", "queue", "job_type", "error_code", "dlq_reason", "scheduled", "tag", "idempotency_key", "limit", "offset"]) { request, _ in
            try await list(request, status: nil)
        }
        // `?queue=` names the queue an oversized body's refusal is recorded for (the body is not read).
        router.route(.post, "/jobs", query: ["queue"]) { request, context in try await create(request, context) }
        router.route(.post, "/jobs/batch", query: ["queue"]) { request, context in try await createBatch(request, context) }
        router.route(.post, "/jobs/bulk/:action") { request, context in try await bulk(request, context) }
        router.route(.get, "/jobs/:id") { _, context in HTTP.json(try await client.job(try id(context)).json) }
        router.route(.get, "/jobs/:id/timeline") { _, context in HTTP.json(try await client.timeline(try id(context)).json) }
        router.route(.get, "/jobs/:id/explain") { _, context in HTTP.json(try await client.explain(try id(context)).json) }
        router.route(.post, "/jobs/:id/retry") { _, context in HTTP.json(try await client.retry(try id(context)).json) }
        router.route(.post, "/jobs/:id/replay") { _, context in
            HTTP.json(try await client.replay(try id(context)).json, status: .created)
        }
        router.route(.post, "/jobs/:id/cancel") { _, context in HTTP.json(try await client.cancel(try id(context)).json) }
        router.route(.delete, "/jobs/:id") { _, context in
            let jobId = try id(context)
            try await client.delete(jobId)
            return HTTP.json(.object([("deleted", .bool(true)), ("job_id", .string(jobId))]))
        }
        router.route(.get, "/dlq", query: ["queue", "dlq_reason", "limit", "offset"]) { request, _ in try await list(request, status: .dlq) }
    }

    func id(_ context: AdminContext) throws -> String {
        guard let id = context.parameters.get("id") else { throw PortableError.invalid("missing job id") }
        return id
    }

    static func filter(_ request: Request) throws -> JobFilter {
        var f = JobFilter()
        if let s = request.query("status") {
            f.status = try JobStatus.named(s)
        }
        f.queue = request.query("queue")
        f.jobType = request.query("job_type")
        f.errorCode = request.query("error_code")
        f.dlqReason = request.query("dlq_reason")
        // `tag=a,b` (commas cannot be part of a tag): jobs carrying every one.
        if let t = request.query("tag") { f.tags = t.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        f.idempotencyKey = request.query("idempotency_key")
        switch request.query("scheduled") {
        case nil, "false": f.scheduled = false
        case "true": f.scheduled = true
        case let v?: throw PortableError.invalid("scheduled must be true or false, not \(v)")
        }
        if let q = f.queue { try Names.check(q, "queue") }
        if let t = f.jobType { try Names.check(t, "job_type") }
        return f
    }

    func list(_ request: Request, status: JobStatus?) async throws -> Response {
        var f = try JobRoutes.filter(request)
        if let status { f.status = status }
        let q = try ListQuery(request)
        return HTTP.json(try await client.jobItems(f, limit: q.limit, offset: q.offset).json { $0.json })
    }

    /// The body of `POST /jobs` (and of each item of a batch) as a NewJob; `enqueueMany` checks the values.
    static func newJob(_ json: JSON, headerKey: String?, what: String = "the request body") throws -> NewJob {
        let f = try Fields(json, what: what)
        guard let type = try f.string("job_type") else { throw PortableError.invalid("job_type is required") }
        let bodyKey = try f.string("idempotency_key")
        if let h = headerKey, let b = bodyKey, h != b {
            throw PortableError.invalid("the Idempotency-Key header and idempotency_key in the body differ")
        }
        // Only the wire form is checked here (types, header vs body); the core validates values.
        let payload = f.object.first(where: { $0.0 == "payload_json" })?.1 ?? .null
        var job = NewJob(queue: try f.string("queue") ?? "default", jobType: type, payloadJSON: payload.compact,
                      priority: try f.int("priority") ?? 0, runAt: try f.time("run_at"),
                      delaySeconds: try f.double("delay_seconds"), maxAttempts: try f.int("max_attempts"),
                      timeoutSeconds: try f.int("timeout_seconds"), idempotencyKey: headerKey ?? bodyKey,
                      unique: try f.value("unique").map(UniqueSpec.parse), concurrencyKey: try f.string("concurrency_key"))
        job.tags = try tags(f.value("tags"), what: "tags")
        if let m = f.value("metadata") {
            guard m.objectValue != nil else { throw PortableError.invalid("metadata must be a JSON object") }
            job.metadata = m.compact
        }
        return job
    }

    /// A JSON array of strings (tags); the core checks each tag.
    static func tags(_ v: JSON?, what: String) throws -> [String] {
        guard let v, !v.isNull else { return [] }
        guard let items = v.arrayValue else { throw PortableError.invalid("\(what) must be an array of strings") }
        return try items.map { item in
            guard let s = item.stringValue else { throw PortableError.invalid("\(what) must be an array of strings") }
            return s
        }
    }

    /// The body; an overflow of the upload limit is refused like an oversized payload and
    /// recorded as an ingest decision (for `?queue=` when given: the body was not read).
    func body(_ request: Request, _ context: AdminContext) async throws -> JSON {
        do {
            return try await request.jsonBody(context)
        } catch let e as PortableError where e.code == .payloadTooLarge {
            let queue = request.query("queue").flatMap { Names.isValid($0) ? $0 : nil } ?? "unknown"
            await client.recordIngestRefusal(queue: queue, e)
            throw e
        }
    }

    func create(_ request: Request, _ context: AdminContext) async throws -> Response {
        let body = try await body(request, context)
        let header = request.headers[.init("Idempotency-Key")!]
        // Header bytes that are not UTF-8 reach us decoded as U+FFFD (the codec gives strings,
        // not bytes), so two different keys would collide: such a key is refused.
        if header?.contains("\u{FFFD}") == true {
            throw PortableError.invalid("the Idempotency-Key header is not valid UTF-8 (or holds U+FFFD)")
        }
        let job = try JobRoutes.newJob(body, headerKey: header?.isEmpty == true ? nil : header)
        let r = try await client.enqueue(job)
        return HTTP.json(r.json, status: r.created ? .created : .ok)
    }

    func createBatch(_ request: Request, _ context: AdminContext) async throws -> Response {
        let f = try Fields(try await body(request, context))
        guard let list = f.value("jobs")?.arrayValue else { throw PortableError.invalid("jobs must be an array of jobs") }
        guard (1...1000).contains(list.count) else { throw PortableError.invalid("jobs must hold 1 to 1000 jobs, got \(list.count)") }
        let jobs = try list.enumerated().map { i, j in try JobRoutes.newJob(j, headerKey: nil, what: "jobs[\(i)]") }
        let results = try await client.enqueueMany(jobs)
        return HTTP.json(.object([("items", .array(results.map { r in
            .object([("job_id", .string(r.job.id)), ("created", .bool(r.created))]
                    + (r.duplicate.map { [("duplicate", JSON.string($0.rawValue)), ("replaced", .bool(r.replaced))] } ?? []))
        }))]), status: .created)
    }

    func bulk(_ request: Request, _ context: AdminContext) async throws -> Response {
        guard let name = context.parameters.get("action"), let action = BulkAction(rawValue: name) else {
            throw PortableError.notFound("no bulk action \(context.parameters.get("action") ?? "") (retry, replay, cancel)")
        }
        let f = try Fields(try await request.jsonBody(context))
        var filter = JobFilter()
        if let fv = f.value("filter") {
            let ff = try Fields(fv, what: "filter")
            filter.queue = try ff.string("queue")
            filter.jobType = try ff.string("job_type")
            filter.errorCode = try ff.string("error_code")
            filter.dlqReason = try ff.string("dlq_reason")
            if let t = try ff.string("tag") { filter.tags = [t] }
            filter.tags += try JobRoutes.tags(ff.value("tags"), what: "filter.tags")
            if let s = try ff.string("status") {
                filter.status = try JobStatus.named(s)
            }
        }
        let limit = try f.int("limit") ?? 1000
        let r = try await client.bulk(action, filter: filter, dryRun: try f.bool("dry_run") ?? false, limit: limit)
        return HTTP.json(r.json)
    }
}

import Backends
import Foundation
import Hummingbird

/// `/flows` and `/runs`.
struct FlowRoutes {
    let client: PortableClient

    func add(to router: Router<AdminContext>) {
        router.route(.get, "/flows", query: ListQuery.names) { request, _ in
            let q = try ListQuery(request, defaultLimit: 1000)
            let flows = try await client.flows()
            return HTTP.json(q.page(flows).json { $0.apiJSON })
        }
        router.route(.post, "/flows") { request, context in
            let def = try FlowDefinition.parse(try await request.jsonBody(context))
            return HTTP.json(try await client.defineFlow(def).apiJSON, status: .created)
        }
        router.route(.post, "/flows/:slug/runs") { request, context in
            guard let slug = context.parameters.get("slug") else { throw PortableError.invalid("missing flow") }
            try Names.check(slug, "flow")
            let f = try Fields(try await request.jsonBody(context))
            let input = f.object.first(where: { $0.0 == "input" })?.1 ?? .null
            let run = try await client.startFlow(slug, inputJSON: input.compact)
            return HTTP.json(try await client.runJSON(run.id), status: .created)
        }
        router.route(.post, "/flows/:slug/runs/batch") { request, context in
            guard let slug = context.parameters.get("slug") else { throw PortableError.invalid("missing flow") }
            try Names.check(slug, "flow")
            let f = try Fields(try await request.jsonBody(context))
            guard let list = f.value("runs")?.arrayValue else { throw PortableError.invalid("runs must be an array of {\"input\": ...}") }
            let inputs = try list.enumerated().map { i, item in
                (try Fields(item, what: "runs[\(i)]")).object.first(where: { $0.0 == "input" })?.1.compact ?? "null"
            }
            let ids = try await client.startFlows(slug, inputsJSON: inputs)
            return HTTP.json(.object([("items", .array(ids.map { .object([("run_id", .string($0))]) }))]), status: .created)
        }
        router.route(.get, "/runs", query: ["flow", "status"] + ListQuery.names) { request, _ in
            let q = try ListQuery(request)
            let flow = request.query("flow")
            if let flow { try Names.check(flow, "flow") }
            let status = try request.query("status").map { s in
                guard let st = RunStatus(rawValue: s) else {
                    throw PortableError.invalid("unknown run status \(JSON.quote(s)) (\(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return st
            }
            return HTTP.json(try await client.runs(flow: flow, status: status, limit: q.limit, offset: q.offset).json { $0.summaryJSON })
        }
        router.route(.get, "/runs/:id") { _, context in
            HTTP.json(try await client.runJSON(context.parameters.get("id") ?? ""))
        }
        router.route(.post, "/runs/:id/cancel") { _, context in
            let run = try await client.cancelRun(context.parameters.get("id") ?? "")
            return HTTP.json(try await client.runJSON(run.id))
        }
    }
}

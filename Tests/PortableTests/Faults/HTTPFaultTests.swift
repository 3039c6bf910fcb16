import Foundation
import Testing
@testable import Backends

/// The fault suite, part 3: hostile HTTP. No request, however malformed, gets a 5xx or takes the
/// server down; with a token, every route but the public ones refuses a caller without it.
@Suite(.processes) struct HTTPFaultTests {
    /// Bodies, paths, methods and headers a fuzzer or an attacker sends.
    @Test(arguments: TestBackend.enabled)
    func hostileRequestsNeverGetA5xx(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let s = try await AdminServerProcess.start(database: db.url)
            let job = try await db.client.add("t").id
            let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            let bodies: [String] = [
                "", "null", "[]", "{", "}", "\"str\"", "1e999999", "-0", "{\"job_type\":\"t\",\"payload_json\":" + deep + "}", deep,
                "{\"job_type\":\"t\",\"priority\":1e300}", "{\"job_type\":\"t\",\"max_attempts\":-9223372036854775808}",
                "{\"job_type\":\"t\",\"run_at\":\"9999-99-99T99:99:99Z\"}", "{\"job_type\":\"\\u0000\"}",
                "{\"job_type\":\"t\",\"queue\":\"" + String(repeating: "q", count: 10_000) + "\"}",
                "{\"jobs\":" + String(repeating: "{\"job_type\":\"t\"},", count: 1) + "{}]}",
                "{\"filter\":{\"status\":[\"dlq\"]},\"limit\":\"all\"}", "{\"dry_run\":\"yes\"}",
                "{\"job_type\":\"t\",\"idempotency_key\":\"" + String(repeating: "k", count: 1000) + "\"}",
                "{\"slug\":\"x\",\"steps\":[{\"slug\":\"a\",\"depends_on\":[\"a\"]}]}",
                "{\"name\":\"n\",\"cron\":\"99 99 99 99 99\",\"job_type\":\"t\"}",
            ]
            let paths = ["/jobs", "/jobs/batch", "/jobs/bulk/retry", "/jobs/bulk/nuke", "/jobs/\(job)/retry", "/jobs/\(job)/cancel",
                         "/jobs/not-a-uuid/replay", "/queues/x/policy", "/queues/%00/pause", "/queues/../../etc/passwd/purge",
                         "/flows", "/flows/nope/runs", "/schedules"]
            var statuses: [Int: Int] = [:]
            for path in paths {
                for body in bodies {
                    let r = try await s.request("POST", path, raw: body)
                    statuses[r.status, default: 0] += 1
                    #expect(r.status < 500, "POST \(path) with \(body.prefix(60)): \(r)")
                    #expect(r.status < 400 || r.errorCode != nil, "an error has the JSON shape: POST \(path): \(r)")
                }
            }
            let gets = ["/jobs?limit=99999999999999999999", "/jobs?status=%FF", "/jobs?offset=-1", "/jobs?queue=" + String(repeating: "a", count: 5000),
                        "/jobs/" + String(repeating: "0", count: 4000), "/jobs/\(job)/timeline/extra", "/%2e%2e/%2e%2e/", "/runs/%00",
                        "/assets/../../Package.swift", "/metrics?x=" + String(repeating: "%", count: 100), "/openapi.json?%zz"]
            for path in gets {
                let r = try await s.get(path)
                statuses[r.status, default: 0] += 1
                #expect(r.status < 500, "GET \(path.prefix(80)): \(r)")
            }
            for method in ["PUT", "PATCH", "TRACE", "OPTIONS", "DELETE", "CONNECTX"] {
                let r = try await s.request(method, "/jobs")
                #expect(r.status < 500, "\(method) /jobs: \(r)")
            }
            let odd = try await s.request("GET", "/jobs", headers: ["X-Big": String(repeating: "h", count: 6000), "Accept": "\u{7}"])
            #expect(odd.status < 500, "\(odd)")
            // Still up and healthy after all of it.
            #expect(try await s.get("/health").status == 200)
            try await s.stop()
            print("FAULT hostile HTTP \(db.backend): \(statuses.values.reduce(0, +)) requests, statuses \(statuses.sorted { $0.key < $1.key })")
        }
    }

    /// With `API_TOKEN`, every documented route except `/health`, the probes and the dashboard's
    /// static shell answers 401 without the token — read from the OpenAPI document, so a new
    /// route is covered the day it is documented.
    @Test(arguments: TestBackend.enabled)
    func everyProtectedRouteNeedsTheToken(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let s = try await AdminServerProcess.start(database: db.url, token: "fault-token")
            let doc = try await s.get("/openapi.json")
            #expect(doc.status == 200)
            let paths = doc.json["paths"]?.objectValue ?? []
            #expect(paths.count > 20, "the document lists the routes")
            let open: Set<String> = ["/health", "/health/live", "/health/ready", "/", "/openapi.json"]
            var checked = 0
            for (template, methods) in paths where !open.contains(template) {
                let path = template
                    .replacingOccurrences(of: "{id}", with: "01a22e86-01fe-7072-bca1-d3435c815e81")
                    .replacingOccurrences(of: "{name}", with: "q").replacingOccurrences(of: "{slug}", with: "f")
                    .replacingOccurrences(of: "{action}", with: "retry")
                for (method, _) in methods.objectValue ?? [] where ["get", "post", "delete", "put", "patch"].contains(method) {
                    let r = try await s.request(method.uppercased(), path, raw: method == "get" ? nil : "{}", auth: false)
                    #expect(r.status == 401 && r.errorCode == "UNAUTHORIZED", "\(method.uppercased()) \(path) without the token: \(r)")
                    checked += 1
                }
            }
            #expect(checked > 25)
            #expect(try await s.get("/health", auth: false).status == 200)
            #expect(try await s.get("/jobs").status == 200, "with the token")
            try await s.stop()
        }
    }
}

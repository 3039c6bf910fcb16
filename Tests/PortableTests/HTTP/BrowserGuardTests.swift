import Foundation
import Testing
@testable import Backends

/// What a web page in the user's browser can do to a token-less loopback `serve`: nothing.
/// Bodies must be JSON, cross-site state changes and foreign `Host`s (DNS rebinding) are 403,
/// and every response carries the security headers.
/// Serialized: each test starts a server process, and the suite runs beside every other.
@Suite(.serialized, .processes) struct BrowserGuardTests {
    @Test(arguments: TestBackend.enabled)
    func bodiesThatAreNotJSONAre415AndChangeNothing(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            let id = try await db.client.add("t", queue: "q").id
            let attempts: [(String, String)] = [
                ("/jobs/bulk/cancel", #"{"filter":{"queue":"q"}}"#),
                ("/queues/q/purge", "{}"),
                ("/jobs", #"{"job_type":"t","queue":"q"}"#),
                ("/jobs", "job_type=t&queue=q"),
            ]
            for (path, body) in attempts {
                for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                    let r = try await s.request("POST", path, raw: body, headers: ["Content-Type": type])
                    #expect(r.status == 415 && r.errorCode == "UNSUPPORTED_MEDIA_TYPE", "\(type) \(path) → \(r)")
                }
            }
            let noType = try await s.raw("POST /queues/q/purge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
            #expect(noType?.status == 415, "a body without a Content-Type: \(String(describing: noType))")
            #expect(try await db.client.job(id).status == .queued, "nothing was cancelled or purged")
            #expect(try await db.client.jobs(JobFilter(queue: "q")).total == 1, "nothing was enqueued")
            // JSON with parameters is JSON; body-less actions (the dashboard's retry/cancel) need no type.
            let json = try await s.request("POST", "/jobs", raw: #"{"job_type":"t"}"#, headers: ["Content-Type": "application/json; charset=utf-8"])
            #expect(json.status == 201, "\(json)")
            let bare = try await s.raw("POST /jobs/\(id)/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
            #expect(bare?.status == 200, "\(String(describing: bare))")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func crossSiteStateChangesAre403(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            let id = try await db.client.add("t", queue: "q").id
            let own = s.base
            let refused: [[String: String]] = [
                ["Origin": "http://evil.example"],
                ["Origin": "null"],
                ["Origin": "http://127.0.0.1:1"],
                ["Sec-Fetch-Site": "cross-site"],
                ["Sec-Fetch-Site": "same-site"],
                ["Origin": own, "Sec-Fetch-Site": "cross-site"],
            ]
            for headers in refused {
                let bulk = try await s.post("/jobs/bulk/cancel", .object([("filter", .object([("queue", .string("q"))]))]), headers: headers)
                #expect(bulk.status == 403 && bulk.errorCode == "FORBIDDEN", "\(headers) → \(bulk)")
                let del = try await s.request("DELETE", "/jobs/\(id)", headers: headers)
                #expect(del.status == 403, "\(headers) → \(del)")
            }
            #expect(try await db.client.job(id).status == .queued, "nothing changed")
            let reads = try await s.request("GET", "/jobs", headers: ["Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"])
            #expect(reads.status == 200, "reads are not state changes (and no CORS header lets a page read them)")
            #expect(reads.headers["access-control-allow-origin"] == nil)
            let sameOrigin = try await s.post("/jobs", AdminAPITests.job(), headers: ["Origin": own, "Sec-Fetch-Site": "same-origin"])
            #expect(sameOrigin.status == 201, "the dashboard: \(sameOrigin)")
            let localhost = try await s.raw("POST /jobs HTTP/1.1\r\nHost: localhost:\(s.port)\r\nOrigin: http://localhost:\(s.port)\r\n"
                                            + "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"job_type\":\"t\"}")
            #expect(localhost?.status == 201, "the dashboard opened as localhost: \(String(describing: localhost))")
            #expect(try await s.post("/jobs", AdminAPITests.job()).status == 201, "no Origin, no Sec-Fetch-Site: not a browser")
        }
    }

    @Test func onLoopbackOnlyLoopbackHostsAreAnswered() async throws {
        try await withAdminServer(.sqlite) { _, s in
            for host in ["evil.example", "evil.example:\(s.port)", "127.0.0.1.evil.example", "192.168.1.10", "[::2]:80"] {
                let r = try await s.raw("GET /jobs HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                #expect(r?.status == 403 && r?.errorCode == "FORBIDDEN", "Host: \(host) → \(String(describing: r))")
                let health = try await s.raw("GET /health HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                #expect(health?.status == 403, "DNS rebinding reads nothing, not even health")
            }
            for host in ["localhost", "LOCALHOST:\(s.port)", "127.0.0.1:\(s.port)", "127.1.2.3", "[::1]:\(s.port)", "[::1]"] {
                let r = try await s.raw("GET /jobs HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                #expect(r?.status == 200, "Host: \(host) → \(String(describing: r))")
            }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func everyResponseCarriesSecurityHeaders(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { _, s in
            var replies: [(String, [String: String])] = []
            for path in ["/", "/assets/app.js", "/jobs", "/health", "/nowhere", "/jobs/0190a0b0-0000-7000-8000-000000000000"] {
                replies.append((path, try await s.get(path).headers))
            }
            replies.append(("405", try await s.request("PUT", "/jobs").headers))
            replies.append(("400 JSON", try await s.request("POST", "/jobs", raw: "{").headers))
            replies.append(("422", try await s.get("/jobs?limit=0").headers))
            let raws = [
                "GARBAGE\r\n\r\n",
                "POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n",
            ]
            for r in raws { replies.append((r, try #require(try await s.raw(r)).headers)) }
            for (what, h) in replies {
                #expect(h["x-content-type-options"] == "nosniff", "\(what): \(h)")
                #expect(h["x-frame-options"] == "DENY", "\(what)")
                #expect(h["referrer-policy"] == "no-referrer", "\(what)")
                #expect(h["cache-control"] == "no-store", "\(what)")
                let csp = h["content-security-policy"] ?? ""
                #expect(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'self'"), "\(what): \(csp)")
            }
        }
    }

    /// The policy allows no inline script or style: the dashboard must need none.
    @Test func theDashboardFitsItsContentSecurityPolicy() throws {
        let html = try String(contentsOfFile: repoRoot + "/dashboard/index.html", encoding: .utf8)
        let js = try String(contentsOfFile: repoRoot + "/dashboard/app.js", encoding: .utf8)
        let scripts = html.components(separatedBy: "<script").dropFirst()
        #expect(scripts.allSatisfy { $0.hasPrefix(" src=") && $0.contains("></script>") }, "only external scripts")
        #expect(!html.contains("<style") && !html.contains(" style="), "no inline styles")
        #expect(html.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil, "no inline event handlers")
        #expect(!js.contains("eval(") && !js.contains("new Function"))
        #expect(!js.contains("innerHTML"), "no markup strings (and no inline styles through them)")
    }

    @Test(arguments: TestBackend.enabled)
    func protocolErrorsAreJSON400s(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            let garbage = try #require(try await s.raw("GARBAGE\r\n\r\n"))
            #expect(garbage.status == 400 && garbage.errorCode == "BAD_REQUEST", "\(garbage)")
            let badChunk = try #require(try await s.raw("POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                                        + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"))
            #expect(badChunk.status == 400 && badChunk.errorCode == "BAD_REQUEST", "a bad chunk size is not a 413: \(badChunk)")
            let bigHeader = try #require(try await s.raw("GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
                                                         + String(repeating: "a", count: 100_000) + "\r\n\r\n"))
            #expect(bigHeader.status == 400 && bigHeader.errorCode == "BAD_REQUEST", "\(bigHeader)")
            #expect(try await db.client.jobs().total == 0)
            #expect(try await s.get("/health").status == 200, "the server is fine")
        }
    }
}

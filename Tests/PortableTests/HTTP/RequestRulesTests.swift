import Foundation
import Testing
@testable import Backends

/// Wrong input gets the right code: unknown query parameters and values, limit/offset on every
/// list, and an `Idempotency-Key` that is not UTF-8.
/// Serialized: each test starts a server process, and the suite runs beside every other.
@Suite(.serialized, .processes) struct RequestRulesTests {
    static let lists = ["/jobs", "/dlq", "/queues", "/workers", "/schedules", "/flows", "/runs", "/ingest/decisions", "/policy/decisions"]

    @Test(arguments: TestBackend.enabled)
    func everyListValidatesLimitAndOffset(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            for path in Self.lists {
                for q in ["limit=-1", "limit=abc", "limit=0", "limit=1001", "offset=-1", "offset=abc"] {
                    let r = try await s.get("\(path)?\(q)")
                    #expect(r.status == 422 && r.errorCode == "INVALID_ARGUMENT", "\(path)?\(q) → \(r)")
                }
                #expect(try await s.get("\(path)?limit=1000&offset=0").status == 200, "\(path)")
            }
            for q in ["a", "b", "c"] { try await db.client.pause(q) }
            let page = try await s.get("/queues?limit=1&offset=1")
            #expect(page.json["items"]?.arrayValue?.map { $0["queue"]?.stringValue } == ["b"] && page.json["total"] == .int(3), "\(page)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func unknownParametersAndValuesAre422NamingThem(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { _, s in
            let runs = try await s.get("/runs?state=bogus")
            #expect(runs.status == 422, "\(runs)")
            let message = runs.json["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("\"state\"") && message.contains("flow, status, limit, offset"), "\(message)")
            let runStatus = try await s.get("/runs?status=bogus")
            #expect(runStatus.status == 422 && (runStatus.json["error"]?["message"]?.stringValue ?? "").contains("cancelled"), "\(runStatus)")
            let jobs = try await s.get("/jobs?state=queued")
            #expect(jobs.status == 422 && (jobs.json["error"]?["message"]?.stringValue ?? "").contains("status, queue, job_type"), "\(jobs)")
            let status = try await s.get("/jobs?status=bogus")
            #expect(status.status == 422 && (status.json["error"]?["message"]?.stringValue ?? "").contains("dlq"), "\(status)")
            for path in ["/health?verbose=1", "/metrics?x=1", "/dlq?status=queued", "/maintenance/runs?offset=1", "/openapi.json?v=2"] {
                let r = try await s.get(path)
                #expect(r.status == 422 && r.errorCode == "INVALID_ARGUMENT", "\(path) → \(r)")
            }
            let cancel = try await s.post("/jobs/0190a0b0-0000-7000-8000-000000000000/cancel?force=1")
            #expect(cancel.status == 422, "POSTs too: \(cancel)")
            let queued = try await s.post("/jobs?queue=ingest", AdminAPITests.job())
            #expect(queued.status == 201, "?queue= on POST /jobs stays accepted: \(queued)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func anIdempotencyKeyThatIsNotUTF8Is422(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            let body = #"{"job_type":"t"}"#
            for key: [UInt8] in [[0xFF, 0x61], [0xFE, 0x61], [0x61, 0xC3]] {
                let c = try s.connect()
                c.send(Array("POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nIdempotency-Key: ".utf8) + key
                       + Array("\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
                let r = try #require(try await c.response())
                #expect(r.status == 422 && r.errorCode == "INVALID_ARGUMENT", "\(key) → \(r)")
            }
            #expect(try await db.client.jobs().total == 0, "none was taken as a duplicate of another, none stored")
            let first = try await s.post("/jobs", AdminAPITests.job(), headers: ["Idempotency-Key": "ключ-1"])
            let again = try await s.post("/jobs", AdminAPITests.job(), headers: ["Idempotency-Key": "ключ-1"])
            #expect(first.status == 201 && again.status == 200, "a UTF-8 key works: \(first) \(again)")
        }
    }
}

import Foundation
import Testing
@testable import Backends

/// Issue 16 over a real socket: batch starts and a run's events.
@Suite(.processes) struct FlowHTTPTests {
    @Test(arguments: TestBackend.enabled)
    func aBatchOfRunsStartsInOneRequestAndABadOneIsRefusedWhole(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"hb","steps":[{"slug":"a"},{"slug":"b","depends_on":["a"]}]}"#))
            let runs = JSON.array((0..<20).map { .object([("input", .object([("i", .int($0))]))]) })
            let r = try await s.post("/flows/hb/runs/batch", .object([("runs", runs)]))
            #expect(r.status == 201, "\(r)")
            let ids = (r.json["items"]?.arrayValue ?? []).compactMap { $0["run_id"]?.stringValue }
            #expect(ids.count == 20)
            let third = try await s.get("/runs/\(ids.count > 2 ? ids[2] : "")")
            #expect(third.json["input"] == .object([("i", .number("2"))]), "\(third)")
            #expect(third.json["events"] == .array([]))

            let bad = try await s.post("/flows/hb/runs/batch", .object([("runs", .array([.object([("input", .int(1))]), .int(2)]))]))
            #expect(bad.status == 422 && bad.errorCode == "INVALID_ARGUMENT", "\(bad)")
            let none = try await s.post("/flows/hb/runs/batch", .object([("runs", .array([]))]))
            #expect(none.status == 422, "\(none)")
            let unknown = try await s.post("/flows/nope/runs/batch", .object([("runs", .array([.object([])]))]))
            #expect(unknown.status == 404, "\(unknown)")
            #expect(try await db.client.runs(flow: "hb").total == 20, "the refused batches stored nothing")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func runsFilterByStatusAndFlowAndRefuseUnknownValues(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"fa","steps":[{"slug":"a"}]}"#))
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"fb","steps":[{"slug":"a"}]}"#))
            let cancelled = try await db.client.startFlow("fa")
            _ = try await db.client.cancelRun(cancelled.id)
            _ = try await db.client.startFlows("fa", inputsJSON: ["1", "2"])
            _ = try await db.client.startFlow("fb")
            func ids(_ path: String) async throws -> (Int?, [String]) {
                let r = try await s.get(path)
                #expect(r.status == 200, "\(r)")
                return (r.json["total"]?.intValue, (r.json["items"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
            }
            #expect(try await ids("/runs").0 == 4)
            #expect(try await ids("/runs?status=running").0 == 3)
            #expect(try await ids("/runs?status=cancelled").1 == [cancelled.id])
            #expect(try await ids("/runs?status=running&flow=fa").0 == 2)
            #expect(try await ids("/runs?status=failed&flow=fb").0 == 0)
            let bad = try await s.get("/runs?status=done")
            #expect(bad.status == 422 && bad.errorCode == "INVALID_ARGUMENT", "\(bad)")
            let badFlow = try await s.get("/runs?flow=no%20such")
            #expect(badFlow.status == 422, "\(badFlow)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func retryingAStepJobOfACancelledRunAnswers409(_ backend: TestBackend) async throws {
        try await withAdminServer(backend) { db, s in
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"hc","steps":[{"slug":"a"}]}"#))
            let run = try await db.client.startFlow("hc")
            let job = try #require(run.steps.first?.jobId)
            _ = try await db.client.cancelRun(run.id)
            let r = try await s.post("/jobs/\(job)/retry")
            #expect(r.status == 409 && r.errorCode == "CONFLICT", "\(r)")
        }
    }
}

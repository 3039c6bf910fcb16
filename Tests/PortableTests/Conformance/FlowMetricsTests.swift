import Foundation
import Testing
@testable import Backends
@testable import Portable

/// Run duration figures per flow in `/metrics` (issue 16 §4), with the injected clock.
@Suite struct FlowMetricsTests {
    @Test(arguments: TestBackend.enabled)
    func finishedRunsInTheWindowGiveAverageAndP95PerFlow(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"one","max_attempts":1,"steps":[{"slug":"s"}]}"#))
            try await db.client.defineFlow(try FlowTests.def(#"{"slug":"idle","steps":[{"slug":"s"}]}"#))
            for _ in 0..<4 { _ = try await db.client.startFlow("one") }
            _ = try await db.client.startFlow("idle")  // still running: not a finished run
            #expect(try await db.client.metrics().flows.isEmpty, "nothing finished yet")
            // Runs end 1, 3 and 6 s after their start; the fourth fails at 10 s (failed runs count).
            for step: Double in [1, 2, 3] {
                db.clock.advance(step)
                _ = try await FlowTests().finish(db, "one.s", output: "1")
            }
            db.clock.advance(4)
            let last = try #require(try await db.client.leaseOne(types: ["one.s"]))
            #expect(try await db.client.fail(last) == .applied)
            let m = try await db.client.metrics()
            #expect(m.flows == [FlowFigures(flow: "one", runsFinished: 4, avgMs: 5000, p95Ms: 10_000)], "\(m.flows)")
            #expect(m.json["flows"]?.arrayValue?.first?["run_duration_ms"]?["avg"] == .int(5000))
            db.clock.advance(120)
            #expect(try await db.client.metrics().flows.isEmpty, "runs that finished before the 60 s window are not counted")
        }
    }
}

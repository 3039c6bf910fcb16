import Foundation
import Testing
@testable import Backends
@testable import Portable

/// Idle workers stop answering wakeups whose claims find nothing (the thundering herd of a fleet).
@Suite(.processes) struct WakeupBackoffTests {
    @Test func quietTimeDoublesToItsCapAndResetsOnWork() {
        var b = WakeupBackoff(pollIntervalSeconds: 1)
        #expect(b.quietSeconds(unit: 0.99) == 0, "listens at once until a wakeup comes back empty")
        b.claimed(0, afterWakeup: false)
        #expect(b.quietSeconds(unit: 0.99) == 0, "an empty claim after the poll timer is no herd")
        var seen: [Double] = []
        for _ in 0..<6 {
            b.claimed(0, afterWakeup: true)
            seen.append(b.quietSeconds(unit: 0))
        }
        #expect(seen == [0.025, 0.05, 0.1, 0.2, 0.25, 0.25], "half of 50 ms doubling, capped at 0.5 s")
        #expect(b.quietSeconds(unit: 0.999_999) < 0.5 && b.quietSeconds(unit: 0.5) == 0.375, "jitter in [0.5, 1)")
        b.claimed(3, afterWakeup: true)
        #expect(b.quietSeconds(unit: 0.5) == 0, "a claim that finds work resets it")
        #expect(WakeupBackoff(pollIntervalSeconds: 0.05).maxSeconds == 0.05, "never longer than the poll interval")
    }

    @Test(arguments: TestBackend.enabled)
    func aWorkerWhoseWakeupsFindNothingStopsListeningForAWhile(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            var o = WorkerOptions(id: "quiet-\(UUID().uuidString.prefix(6))")
            o.pollIntervalSeconds = 1
            o.maintenance = nil
            let w = Worker(client: db.client, options: o, logger: WorkerRuntimeTests.quiet)
            w.register("t") { _ in nil }
            let task = Task { try await w.run() }
            defer { w.stop() }
            #expect(try await eventually(timeout: 30) { w.stats.claimRoundTrips >= 1 }, "the first claim")
            try await Task.sleep(nanoseconds: 300_000_000)  // a listener's reconnect wakeup, if any, has come
            // A wakeup whose claim finds nothing: the worker goes quiet (the test clock holds it there).
            db.client.wakeups.notify(queue: "default")
            #expect(try await eventually(timeout: 30) { w.stats.quietWaits >= 1 }, "\(w.stats)")
            let claims = w.stats.claimRoundTrips
            for _ in 0..<50 { db.client.wakeups.notify(queue: "default") }
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(w.stats.claimRoundTrips == claims, "50 wakeups while quiet: no claim (\(w.stats))")
            // Its quiet time over, it claims once for all of them (they were not lost), finds nothing
            // again and goes quiet for longer.
            db.clock.advance(0.6)
            #expect(try await eventually(timeout: 30) { w.stats.quietWaits >= 2 }, "\(w.stats)")
            #expect(w.stats.claimRoundTrips == claims + 1, "\(w.stats)")
            // A job arrives: the next claim after the quiet time takes it and the worker runs it.
            let job = try await db.client.add("t")
            db.clock.advance(0.6)
            #expect(try await eventually(timeout: 30) { try await db.client.job(job.id).status == .succeeded })
            w.stop()
            try await task.value
        }
    }
}

import Foundation
import Testing
@testable import Backends

/// Invariant 7: payload limit and per-queue enqueue rate, refusals aggregated as ingest decisions.
@Suite struct GuardrailTests {
    @Test(arguments: TestBackend.enabled)
    func anOversizedPayloadIsRefusedAndRecorded(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxPayloadBytes = 32
        try await withDB(backend, config: config) { db in
            let big = "\"" + String(repeating: "x", count: 40) + "\""
            for _ in 0..<3 {
                let e = await #expect(throws: PortableError.self) { try await db.client.enqueue(NewJob(queue: "up", jobType: "t", payloadJSON: big)) }
                #expect(e?.code == .payloadTooLarge)
            }
            // A batch with one oversized job is refused whole.
            let e = await #expect(throws: PortableError.self) {
                try await db.client.enqueueMany([NewJob(queue: "up", jobType: "t"), NewJob(queue: "up", jobType: "t", payloadJSON: big)])
            }
            #expect(e?.code == .payloadTooLarge)
            let stored = try await db.client.jobs().total
            #expect(stored == 0)
            let decisions = try await db.client.decisions(.ingest)
            #expect(decisions.items.count == 1, "aggregated per (queue, reason, minute)")
            #expect(decisions.items[0].queue == "up" && decisions.items[0].reasonCode == "PAYLOAD_TOO_LARGE" && decisions.items[0].count == 4)
            #expect(decisions.items[0].minute == TestDB.epoch.addingTimeInterval(-TestDB.epoch.timeIntervalSince1970.truncatingRemainder(dividingBy: 60)))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func dedupeRunsBeforeTheGuardrails(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxPayloadBytes = 32
        config.maxEnqueuePerMinute = 1
        try await withDB(backend, config: config) { db in
            let first = try await db.client.enqueue(NewJob(jobType: "t", idempotencyKey: "k"))
            let again = try await db.client.enqueue(NewJob(jobType: "t", payloadJSON: "\"" + String(repeating: "y", count: 50) + "\"",
                                                           idempotencyKey: "k"))
            #expect(!again.created && again.job.id == first.job.id, "the existing job, not a 413 or 429")
            let e = await #expect(throws: PortableError.self) { try await db.client.enqueue(NewJob(jobType: "t")) }
            #expect(e?.code == .enqueueRateExceeded)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func theEnqueueRateIsASlidingMinutePerQueue(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxEnqueuePerMinute = 5
        try await withDB(backend, config: config) { db in
            _ = try await db.client.enqueueMany((0..<3).map { _ in NewJob(queue: "r", jobType: "t") })
            db.clock.advance(30)
            _ = try await db.client.enqueueMany((0..<2).map { _ in NewJob(queue: "r", jobType: "t") })
            let e = await #expect(throws: PortableError.self) { try await db.client.enqueue(NewJob(queue: "r", jobType: "t")) }
            #expect(e?.code == .enqueueRateExceeded)
            #expect(e?.retryAfter == 30, "the first three leave the window 30 s from now")
            _ = try await db.client.enqueue(NewJob(queue: "other", jobType: "t"))
            let batch = await #expect(throws: PortableError.self) {
                try await db.client.enqueueMany([NewJob(queue: "r", jobType: "t"), NewJob(queue: "r", jobType: "t")])
            }
            #expect(batch?.code == .enqueueRateExceeded)
            db.clock.advance(30.5)
            _ = try await db.client.enqueueMany((0..<3).map { _ in NewJob(queue: "r", jobType: "t") })
            #expect(try await db.client.jobs(JobFilter(queue: "r")).total == 8)
            let d = try await db.client.decisions(.ingest).items
            #expect(d.map(\.count).reduce(0, +) == 3 && d.allSatisfy { $0.reasonCode == "ENQUEUE_RATE_EXCEEDED" && $0.queue == "r" })
        }
    }

    @Test(arguments: TestBackend.enabled)
    func replaysObeyTheGuardrails(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.maxEnqueuePerMinute = 1
        try await withDB(backend, config: config) { db in
            let j = try await db.client.add(maxAttempts: 1)
            let l = try #require(try await db.client.leaseOne())
            _ = try await db.client.fail(l)
            let e = await #expect(throws: PortableError.self) { try await db.client.replay(j.id) }
            #expect(e?.code == .enqueueRateExceeded)
        }
    }
}

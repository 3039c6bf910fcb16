import Foundation
import Testing
@testable import Backends

/// The list filters the dashboard offers beyond status/queue/type: the DLQ reason, and the queued
/// jobs that are not due yet (backing off before a retry, or scheduled for later).
@Suite struct ListFilterTests {
    @Test(arguments: TestBackend.enabled)
    func dlqReasonFiltersTheDeadLetteredJobs(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let exhausted = try await db.client.add(maxAttempts: 1).id
            let permanent = try await db.client.add(maxAttempts: 5).id
            for (code, retryable) in [("A", true), ("B", false)] {
                let job = try #require(try await db.client.leaseOne())
                #expect(try await db.client.fail(job, code: code, retryable: retryable) == .applied)
            }
            let byReason = { (reason: String) in
                try await db.client.jobItems(JobFilter(status: .dlq, dlqReason: reason)).items.map(\.job.id)
            }
            #expect(try await byReason(Codes.maxAttemptsExceeded) == [exhausted])
            #expect(try await byReason(Codes.nonRetryable) == [permanent])
            #expect(try await byReason(Codes.timeout) == [])
            #expect(try await db.client.jobItems(JobFilter(dlqReason: Codes.nonRetryable)).total == 1, "without a status too")
            await #expect(throws: PortableError.self) { try await db.client.jobItems(JobFilter(dlqReason: "no spaces")) }
        }
    }

    @Test(arguments: TestBackend.enabled)
    func scheduledListsQueuedJobsThatAreNotDueYet(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let due = try await db.client.add(queue: "q").id
            let later = try await db.client.add(queue: "q", delay: 60).id
            let retrying = try await db.client.add(queue: "q", maxAttempts: 3).id
            let job = try #require(try await db.client.leaseOne(queues: ["q"]))
            #expect(job.id == due || job.id == retrying)
            // Fail whichever was leased; lease again until the retrying one is the one backing off.
            var failed = job
            if job.id == due {
                #expect(try await db.client.ack(job) == .applied)
                failed = try #require(try await db.client.leaseOne(queues: ["q"]))
            }
            #expect(failed.id == retrying)
            #expect(try await db.client.fail(failed) == .applied)

            let scheduled = try await db.client.jobItems(JobFilter(queue: "q", scheduled: true))
            #expect(Set(scheduled.items.map(\.job.id)) == [later, retrying] && scheduled.total == 2)
            #expect(scheduled.items.allSatisfy { $0.job.status == .queued })
            #expect(try await db.client.jobItems(JobFilter(queue: "q", status: .queued, scheduled: true)).total == 2)
            await #expect(throws: PortableError.self) { try await db.client.jobItems(JobFilter(status: .dlq, scheduled: true)) }
            db.clock.advance(61)
            #expect(try await db.client.jobItems(JobFilter(queue: "q", scheduled: true)).total == 0, "both are due now")
        }
    }
}

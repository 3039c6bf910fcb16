import Foundation
import Testing
@testable import Backends

/// Real concurrency: claimers on separate connections drain a queue; every job ends succeeded
/// once, with one attempt, and no lease was ever handed out twice.
@Suite struct ConcurrencyTests {
    @Test(arguments: TestBackend.enabled)
    func fourClaimersDrainFiveThousandJobs(_ backend: TestBackend) async throws {
        try await withDB(backend) { db in
            let total = 5000
            for chunk in stride(from: 0, to: total, by: 1000) {
                _ = try await db.client.enqueueMany((chunk..<min(chunk + 1000, total)).map { i in
                    NewJob(jobType: "noop", payloadJSON: "{\"i\":\(i)}")
                })
            }
            let drivers = try (0..<4).map { _ in try db.openAnother() }
            let start = Date()
            let leases = try await withThrowingTaskGroup(of: [LeaseKey].self) { group in
                for (n, d) in drivers.enumerated() {
                    group.addTask {
                        let client = PortableClient(driver: d, clock: db.clock)
                        var mine: [LeaseKey] = []
                        while true {
                            let jobs = try await client.lease(queues: ["default"], jobTypes: ["noop"], limit: 50,
                                                              leaseSeconds: 60, workerId: "claimer-\(n)")
                            if jobs.isEmpty { break }
                            mine += jobs.map { LeaseKey(jobId: $0.id, token: $0.leaseToken!) }
                            let results = try await client.complete(jobs.map { ($0, .success(output: nil)) }, types: [:])
                            #expect(results.allSatisfy { $0 == .applied })
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let seconds = Date().timeIntervalSince(start)
            for d in drivers { await d.close() }
            let all = leases.flatMap { $0 }
            #expect(all.count == total, "each job leased exactly once")
            #expect(Set(all.map(\.jobId)).count == total)
            #expect(leases.filter { !$0.isEmpty }.count >= 2, "the work was shared")
            #expect(try await db.client.jobs(JobFilter(status: .succeeded), limit: 1).total == total)
            #expect(try await db.client.jobs(JobFilter(status: .queued), limit: 1).total == 0)
            for key in all.prefix(50) {
                let attempts = try await db.driver.jobHistory(key.jobId).attempts
                #expect(attempts.count == 1 && attempts[0].attempt == 1 && attempts[0].leaseToken == key.token)
            }
            print("CONCURRENCY \(db.driver.kind.rawValue): 4 claimers drained \(total) jobs in \(String(format: "%.2f", seconds)) s = \(Int(Double(total) / seconds)) jobs/s")
        }
    }
}

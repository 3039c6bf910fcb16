import Foundation
import Testing
@testable import Backends

/// Queue policies obeyed by separate worker processes.
@Suite(.processes) struct PolicyProcessTests {
    /// An exec handler that records start and end (ns) with the job id.
    static func recorder(_ file: String, sleep: String) -> String {
        "rec=echo \"start $(date +%s%N) $PORTABLEQ_JOB_ID\" >> \(file); sleep \(sleep); echo \"end $(date +%s%N) $PORTABLEQ_JOB_ID\" >> \(file)"
    }

    static func events(_ file: String) throws -> [(kind: String, ns: Int64, id: String)] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").compactMap { line in
            let p = line.split(separator: " ")
            guard p.count == 3, let ns = Int64(p[1]) else { return nil }
            return (String(p[0]), ns, String(p[2]))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func twoWorkerProcessesNeverRunMoreThanTheCap(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let file = db.dir + "/cap.log"
            _ = try await db.client.enqueueMany((0..<18).map { _ in NewJob(queue: "capped", jobType: "rec") })
            try await db.client.setQueueLimits("capped", maxRunning: .some(3), maxStartsPerSecond: nil)
            let flags = ["work", "--database", db.url, "--queues", "capped", "--concurrency", "5", "--until-empty",
                         "--poll-interval-ms", "50", "--exec", Self.recorder(file, sleep: "0.3")]
            let a = try CLI.Running(flags + ["--worker-id", "cap-a"])
            let b = try CLI.Running(flags + ["--worker-id", "cap-b"])
            let ra = try await a.wait(timeout: 120), rb = try await b.wait(timeout: 120)
            #expect(ra.status == 0 && rb.status == 0, "\(ra)\n\(rb)")
            #expect(try await db.client.jobs(JobFilter(queue: "capped", status: .succeeded)).total == 18, "the queue drained")
            var running = 0, peak = 0
            for e in try Self.events(file).sorted(by: { ($0.ns, $0.kind == "end" ? 0 : 1) < ($1.ns, $1.kind == "end" ? 0 : 1) }) {
                running += e.kind == "start" ? 1 : -1
                peak = max(peak, running)
            }
            let byWorker = Set(try await db.client.jobs(JobFilter(queue: "capped"), limit: 100).items.compactMap(\.workerId))
            print("CAP \(db.driver.kind.rawValue): peak \(peak) running of cap 3 across \(byWorker.count) worker processes, 18 jobs")
            #expect(peak <= 3)
            #expect(peak == 3, "the cap was reached (work was available)")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aStartRateOfTenPerSecondHolds(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let file = db.dir + "/rate.log"
            _ = try await db.client.enqueueMany((0..<40).map { _ in NewJob(queue: "rated", jobType: "rec") })
            try await db.client.setQueueLimits("rated", maxRunning: nil, maxStartsPerSecond: .some(10))
            let r = try await CLI.run(["work", "--database", db.url, "--queues", "rated", "--concurrency", "20", "--until-empty",
                                       "--poll-interval-ms", "20", "--exec", Self.recorder(file, sleep: "0")], timeout: 120)
            #expect(r.status == 0, "\(r)")
            let starts = try Self.events(file).filter { $0.kind == "start" }.map(\.ns).sorted()
            #expect(starts.count == 40)
            let span = Double(starts.last! - starts.first!) / 1e9
            // Burst 10 at once, then 30 more at 10/s: at least ~3 s. Generous margin both ways.
            let rate = 30 / span
            print("RATE \(db.driver.kind.rawValue): 40 starts over \(String(format: "%.2f", span)) s = \(String(format: "%.1f", rate))/s after the burst (limit 10/s)")
            #expect(span >= 2.4, "no faster than 10/s (with margin): \(span) s")
            #expect(span <= 30, "and not stalled")
            let decisions = try await db.client.decisions(.policy).items
            #expect(decisions.contains { $0.queue == "rated" && $0.reasonCode == "QUEUE_RATE_LIMITED" && $0.count >= 1 })
            #expect(decisions.filter { $0.queue == "rated" }.count <= 2, "aggregated per minute, not a row per poll")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func pauseStopsNewStartsUntilResume(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let w = try CLI.Running(["work", "--database", db.url, "--queues", "pq", "--poll-interval-ms", "50", "--lease-seconds", "3"])
            #expect(try await w.waitForLog("worker started"))
            #expect(try await CLI.run(["queues", "pause", "pq", "--database", db.url]).status == 0)
            try await Task.sleep(nanoseconds: 1_100_000_000)  // past the workers' policy cache
            let ids = try await db.client.enqueueMany((0..<3).map { _ in NewJob(queue: "pq", jobType: "noop") }).map(\.job.id)
            try await Task.sleep(nanoseconds: 1_500_000_000)
            #expect(try await db.driver.jobGetMany(ids).allSatisfy { $0.status == .queued && $0.attempts == 0 }, "nothing started")
            #expect(try await db.client.explain(ids[0]).reason == .queuePaused)
            let explain = try await CLI.run(["jobs", "explain", ids[0], "--database", db.url])
            #expect(explain.stdout.hasPrefix("QUEUE_PAUSED"))
            #expect(try await eventually { try await db.client.decisions(.policy).items.contains { $0.reasonCode == "QUEUE_PAUSED" } })
            #expect(try await CLI.run(["queues", "resume", "pq", "--database", db.url]).status == 0)
            #expect(try await eventually { try await db.driver.jobGetMany(ids).allSatisfy { $0.status == .succeeded } })
            w.signal(SIGTERM)
            #expect(try await w.wait(timeout: 30).status == 0)
        }
    }
}

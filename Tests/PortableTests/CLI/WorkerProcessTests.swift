import Foundation
import Testing
@testable import Backends

/// Workers as real processes: crashes (`kill -9`), SIGTERM, cancel, outages, wakeups.
@Suite(.processes) struct WorkerProcessTests {
    func worker(_ db: TestDB, _ extra: [String], env: [String: String] = [:]) throws -> CLI.Running {
        try CLI.Running(["work", "--database", db.url, "--builtins", "--poll-interval-ms", "100"] + extra,
                        env: ["PORTABLEQ_REAP_INTERVAL_MS": "300"].merging(env) { _, b in b })
    }

    func count(_ db: TestDB, _ status: JobStatus) async throws -> Int {
        try await db.client.jobs(JobFilter(status: status), limit: 1).total
    }

    @Test(arguments: TestBackend.enabled)
    func killNineLosesNothing(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.countCap = 100_000
        try await withDB(backend, config: config, realClock: true) { db in
            let total = 2000
            for chunk in stride(from: 0, to: total, by: 500) {
                _ = try await db.client.enqueueMany((chunk..<chunk + 500).map { _ in NewJob(jobType: "sleep", payloadJSON: #"{"ms":40}"#) })
            }
            try await crashOneOfTwoWorkers(db, total: total)
            let expired = try await checkEachJobAckedOnce(db, total: total, killed: "victim")
            #expect(expired > 0, "the killed worker had jobs in flight")
            print("CRASH \(db.driver.kind.rawValue): \(total) jobs, \(expired) recovered from the killed worker's leases")
        }
    }

    /// Two workers; `kill -9` one mid-run; a restarted one and the survivor finish the queue.
    func crashOneOfTwoWorkers(_ db: TestDB, total: Int) async throws {
        let flags = ["--lease-seconds", "3", "--concurrency", "10"]
        let a = try worker(db, flags + ["--worker-id", "victim"])
        // The victim must be working before the survivor can take the whole queue.
        #expect(try await a.waitForLog("worker started", timeout: 60))
        let b = try worker(db, flags + ["--worker-id", "survivor"])
        let started = try await eventually { try await count(db, .succeeded) >= 300 }
        #expect(started)
        a.signal(SIGKILL)
        _ = try await a.wait(timeout: 10)
        let c = try worker(db, flags + ["--worker-id", "restarted"])
        let drained = try await eventually(timeout: 120) { try await count(db, .succeeded) == total }
        #expect(drained, "every job succeeded")
        b.signal(SIGTERM)
        c.signal(SIGTERM)
        let rb = try await b.wait(timeout: 30), rc = try await c.wait(timeout: 30)
        #expect(rb.status == 0, "\(rb)")
        #expect(rc.status == 0, "\(rc)")
    }

    /// Every job has exactly one succeeded attempt; lost leases belong to the killed worker and
    /// show in timelines. Returns how many jobs had one.
    func checkEachJobAckedOnce(_ db: TestDB, total: Int, killed: String) async throws -> Int {
        var jobs: [Job] = []
        var offset = 0
        while offset < total {
            let page = try await db.client.jobs(JobFilter(), limit: 1000, offset: offset).items
            jobs.append(contentsOf: page)
            offset += 1000
        }
        #expect(jobs.count == total)
        var expired = 0
        for job in jobs {
            let history = try await db.driver.jobHistory(job.id)
            let succeeded = history.attempts.filter { $0.outcome == .succeeded }.count
            #expect(succeeded == 1, "acked exactly once: \(job.id)")
            // Under heavy load a live worker's lease can lapse too (at-least-once); the killed
            // worker's in-flight jobs always do.
            let lost = history.attempts.filter { $0.outcome == .leaseExpired }
            #expect(history.attempts.count == lost.count + 1, "nothing but expired leases before the one success")
            if lost.contains(where: { $0.workerId == killed }) {
                expired += 1
                let types = try await db.client.timeline(job.id).events.map(\.type)
                #expect(types.contains("lease_expired"))
            }
        }
        return expired
    }

    @Test(arguments: TestBackend.enabled)
    func sigtermFinishesInFlightJobsAndExitsZero(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            // Twenty 3-second jobs two at a time: 30 s of work, so SIGTERM lands mid-run even on a loaded box.
            let jobs = try await db.client.enqueueMany((0..<20).map { _ in NewJob(jobType: "sleep", payloadJSON: #"{"ms":3000}"#) })
            let w = try worker(db, ["--concurrency", "2", "--worker-id", "graceful"], env: ["PORTABLEQ_VERBOSE_JOB_LOGS": "on"])
            #expect(try await eventually { try await count(db, .running) == 2 })
            let running = try await db.client.jobs(JobFilter(status: .running)).items.map(\.id)
            w.signal(SIGTERM)
            let r = try await w.wait(timeout: 30)
            #expect(r.status == 0, "\(r)")
            let after = try await db.driver.jobGetMany(jobs.map(\.job.id))
            let succeeded = Set(after.filter { $0.status == .succeeded }.map(\.id))
            #expect(Set(running).isSubset(of: succeeded), "in-flight jobs finished and were acked")
            #expect(succeeded.count < 20, "claiming stopped at SIGTERM: \(r.stderr)")
            let rest = after.filter { $0.status != .succeeded }
            #expect(rest.allSatisfy { $0.status == .queued && $0.attempts == 0 }, "nothing else was started")
            for j in after {
                let h = try await db.driver.jobHistory(j.id)
                #expect(h.attempts.map(\.outcome) == (j.status == .succeeded ? [.succeeded] : []))
            }
            #expect(r.stderr.contains("worker stopped"))
        }
    }

    @Test(arguments: TestBackend.enabled)
    func jobsStillRunningAtTheShutdownDeadlineAreReleased(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("long", maxAttempts: 1)
            let dir = db.dir
            let w = try worker(db, ["--shutdown-seconds", "1", "--exec", "long=sleep 300 & echo $! > \(dir)/long.pid; wait"])
            #expect(try await eventually { FileManager.default.fileExists(atPath: "\(dir)/long.pid") })
            w.signal(SIGTERM)
            let r = try await w.wait(timeout: 30)
            #expect(r.status == 0, "\(r)")
            let j = try await db.client.job(job.id)
            #expect(j.status == .queued, "back in the queue")
            #expect(j.countedAttempts == 0, "a released attempt does not count against max_attempts")
            let h = try await db.driver.jobHistory(job.id)
            #expect(h.attempts.map(\.outcome) == [.released])
            let tl = try await db.client.timeline(job.id)
            #expect(tl.events.map(\.type).contains("lease_released"))
            let pid = Int32(try String(contentsOfFile: "\(dir)/long.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
            #expect(try await eventually(timeout: 10) { !processIsAlive(pid) }, "the exec process group was stopped")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func cancellingARunningJobStopsItsHandler(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("stuck")
            let dir = db.dir
            let w = try worker(db, ["--lease-seconds", "3", "--exec", "stuck=sleep 300 & echo $! > \(dir)/stuck.pid; wait"])
            #expect(try await eventually { FileManager.default.fileExists(atPath: "\(dir)/stuck.pid") })
            let r = try await CLI.run(["jobs", "cancel", job.id, "--database", db.url])
            #expect(r.status == 0, "\(r)")
            let pid = Int32(try String(contentsOfFile: "\(dir)/stuck.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
            #expect(try await eventually(timeout: 20) { !processIsAlive(pid) }, "the handler's process group was killed")
            let j = try await db.client.job(job.id)
            #expect(j.status == .cancelled)
            #expect(try await db.driver.jobHistory(job.id).attempts.map(\.outcome) == [.cancelled])
            #expect(try await w.waitForLog("lease lost", timeout: 10))
            w.signal(SIGTERM)
            #expect(try await w.wait(timeout: 30).status == 0)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func separateProcessesDrainFiveThousandJobs(_ backend: TestBackend) async throws {
        var config = PortableConfig()
        config.countCap = 100_000
        try await withDB(backend, config: config, realClock: true) { db in
            let total = 5000
            for chunk in stride(from: 0, to: total, by: 1000) {
                _ = try await db.client.enqueueMany((chunk..<chunk + 1000).map { _ in NewJob(jobType: "noop") })
            }
            let start = Date()
            let ws = try (0..<4).map { i in
                try CLI.Running(["work", "--database", db.url, "--until-empty", "--poll-interval-ms", "50", "--worker-id", "p\(i)",
                                 "--concurrency", "25"])
            }
            for w in ws { #expect(try await w.wait(timeout: 180).status == 0) }
            let seconds = Date().timeIntervalSince(start)
            #expect(try await count(db, .succeeded) == total)
            let window = try await db.driver.attemptWindow(seconds: 3600, sampleLimit: 1, now: nil)
            #expect(window.counts.reduce(0) { $0 + $1.count } == total, "one attempt per job: no lease was held twice")
            var byWorker: [String: Int] = [:]
            for offset in stride(from: 0, to: total, by: 1000) {
                for j in try await db.client.jobs(JobFilter(status: .succeeded), limit: 1000, offset: offset).items {
                    byWorker[j.workerId ?? "", default: 0] += 1
                }
            }
            #expect(byWorker.count >= 2, "the processes shared the work: \(byWorker)")
            print("PROCESSES \(db.driver.kind.rawValue): 4 worker processes drained \(total) jobs in \(String(format: "%.2f", seconds)) s (incl. start-up); per worker \(byWorker.sorted { $0.key < $1.key })")
        }
    }

    @Test(arguments: TestBackend.enabled)
    func anIdlePostgresWorkerWakesOnNotify(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await withDB(backend, realClock: true) { db in
            // Polling every 5 s: only LISTEN/NOTIFY can start jobs sooner.
            let w = try CLI.Running(["work", "--database", db.url, "--poll-interval-ms", "5000"])
            #expect(try await w.waitForLog("worker started"))
            try await Task.sleep(nanoseconds: 300_000_000)
            for _ in 0..<20 {
                try await db.client.add("noop")
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            #expect(try await eventually { try await count(db, .succeeded) == 20 })
            let window = try await db.driver.attemptWindow(seconds: 3600, sampleLimit: 100, now: nil)
            let waits = window.samples.compactMap(\.waitMs).sorted()
            #expect(waits.count == 20)
            let p50 = waits[waits.count / 2], max = waits.last!
            print("WAKEUP postgres: enqueue-to-start p50 \(p50) ms, max \(max) ms over 20 jobs (poll interval 5000 ms)")
            #expect(max < 2500, "well under the poll interval: \(waits)")
            w.signal(SIGTERM)
            #expect(try await w.wait(timeout: 30).status == 0)
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aWorkerRidesOutAPostgresRestart(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        let server = try await PostgresServer.start()
        do {
            try await ridesOutARestart(server)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    func ridesOutARestart(_ server: PostgresServer) async throws {
        let url = server.url
        #expect(try await CLI.run(["migrate", "--database", url]).status == 0)
        let driver = try Database.open(try DatabaseURL.parse(url))
        let client = PortableClient(driver: driver)
        _ = try await client.enqueueMany((0..<300).map { _ in NewJob(jobType: "sleep", payloadJSON: #"{"ms":20}"#) })
        let w = try CLI.Running(["work", "--database", url, "--builtins", "--poll-interval-ms", "100", "--lease-seconds", "3", "--concurrency", "4"],
                                env: ["PORTABLEQ_REAP_INTERVAL_MS": "500"])
        #expect(try await eventually { try await client.jobs(JobFilter(status: .succeeded), limit: 1).total >= 50 })
        await driver.close()
        try await server.stop()
        #expect(try await w.waitForLog("database unavailable", timeout: 20))
        try await Task.sleep(nanoseconds: 1_500_000_000)
        try await server.startAgain()
        let driver2 = try Database.open(try DatabaseURL.parse(url))
        let client2 = PortableClient(driver: driver2)
        let drained = try await eventually(timeout: 90) {
            try await client2.jobs(JobFilter(status: .succeeded), limit: 1).total == 300
        }
        #expect(drained, "the queue drained after the restart")
        #expect(try await w.waitForLog("database is back", timeout: 5))
        // Past the settling time: a second line for the same outage would be there by now.
        try await Task.sleep(nanoseconds: UInt64((OutageLog.settleSeconds + 1) * 1e9))
        let logs = w.stderr
        #expect(logs.components(separatedBy: "database unavailable").count - 1 == 1, "the outage is logged once, not per poll: \(logs)")
        #expect(logs.components(separatedBy: "database is back").count - 1 == 1, "its end is logged once: \(logs)")
        w.signal(SIGTERM)
        #expect(try await w.wait(timeout: 30).status == 0)
        await driver2.close()
    }

    @Test(arguments: TestBackend.enabled)
    func aWorkerStartedWhileTheDatabaseIsDownWaitsForIt(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        let server = try await PostgresServer.start()
        do {
            try await waitsForTheDatabase(server)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    func waitsForTheDatabase(_ server: PostgresServer) async throws {
        #expect(try await CLI.run(["migrate", "--database", server.url]).status == 0)
        try await server.stop()
        let w = try CLI.Running(["work", "--database", server.url, "--until-empty", "--poll-interval-ms", "100"])
        #expect(try await w.waitForLog("waiting for the database", timeout: 20))
        try await server.startAgain()
        let r = try await w.wait(timeout: 60)
        #expect(r.status == 0, "\(r)")
        #expect(r.stderr.contains("database is reachable"))
    }
}

import Foundation
import Testing
@testable import Backends

/// `work --metrics-addr`: the worker process's Prometheus text and probes over a real socket;
/// and what a worker logs when it is told to stop with jobs running.
@Suite(.processes) struct WorkerEndpointTests {
    /// Starts `portableq work` with its endpoint on a free loopback port.
    static func startWorker(_ database: String, args: [String] = [], env: [String: String] = [:],
                            token: String? = nil) async throws -> AdminServerProcess {
        var e = env
        if let token { e["PORTABLEQ_API_TOKEN"] = token }
        if e["PORTABLEQ_DB_MAX_CONNECTIONS"] == nil { e["PORTABLEQ_DB_MAX_CONNECTIONS"] = "3" }
        let p = try CLI.Running(["work", "--database", database, "--metrics-addr", "127.0.0.1:0", "--poll-interval-ms", "50"] + args, env: e)
        guard try await p.waitForLog("listening on http://", timeout: 30) else { throw TestFailure("work did not listen: \(p.stderr)") }
        let log = p.stderr
        guard let range = log.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) else {
            throw TestFailure("no address in: \(log)")
        }
        return AdminServerProcess(process: p, base: String(log[range]), token: token)
    }

    @Test(arguments: TestBackend.enabled)
    func aWorkersEndpointServesItsCountersAndProbes(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            for _ in 0..<3 { try await db.client.add("noop", queue: "wq") }
            let w = try await Self.startWorker(db.url, token: "worker-token")
            do {
                let ran = try await eventually(timeout: 30, interval: 0.1) {
                    let r = try await w.get("/metrics")
                    guard r.status == 200 else { return false }
                    return try Exposition(r.body).value("portableq_attempts_total", ["queue": "wq", "outcome": "succeeded"]) == 3
                }
                #expect(ran, "the worker's counters moved as it ran the jobs")
                let m = try await w.get("/metrics")
                #expect(m.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
                let e = try Exposition(m.body)
                #expect(e.value("portableq_jobs_claimed_total", ["queue": "wq"]) == 3)
                #expect(e.value("portableq_job_duration_seconds_count", ["queue": "wq"]) == 3)
                #expect(e.value("portableq_jobs_in_flight") == 0)
                #expect(e.value("portableq_db_outages_total") == 0)
                let prom = try await w.get("/metrics/prom")
                let claimed = try Exposition(prom.body).value("portableq_jobs_claimed_total", ["queue": "wq"])
                #expect(prom.status == 200 && claimed == 3)
                #expect(try await w.get("/metrics", auth: false).status == 401, "the same token rule as serve")
                let live = try await w.get("/health/live", auth: false)
                #expect(live.status == 200, "\(live)")
                let ready = try await w.get("/health/ready", auth: false)
                #expect(ready.status == 200 && ready.json["database"] == .string("up"), "\(ready)")
                let foreign = try await w.raw("GET /health/live HTTP/1.1\r\nHost: evil.example\r\n\r\n")
                #expect(foreign?.status == 403, "the same Host rule as serve: \(String(describing: foreign))")
            } catch {
                try? await w.stop()
                throw error
            }
            try await w.stop()
        }
    }

    @Test func aNonLoopbackEndpointNeedsAToken() async throws {
        let dir = NSTemporaryDirectory() + "pq-ep-" + UUID().uuidString.prefix(8)
        let r = try await CLI.run(["work", "--database", "sqlite://\(dir)/x.db", "--metrics-addr", "0.0.0.0:0"])
        #expect(r.status == 2 && r.stderr.contains("PORTABLEQ_API_TOKEN"), "\(r)")
        let bad = try await CLI.run(["work", "--database", "sqlite://\(dir)/x.db"], env: ["PORTABLEQ_METRICS_ADDR": "nope"])
        #expect(bad.status == 2 && bad.stderr.contains("--metrics-addr"), "\(bad)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.db"), "refused before touching the database")
    }

    @Test(arguments: TestBackend.enabled)
    func readinessFollowsTheDatabase(_ backend: TestBackend) async throws {
        guard case .postgres = backend else { return }
        try await PostgresServer.with { pg in
            #expect(try await CLI.run(["migrate", "--database", pg.url]).status == 0)
            let w = try await Self.startWorker(pg.url)
            let s = try await AdminServerProcess.start(database: pg.url)
            do {
                #expect(try await w.get("/health/ready").status == 200)
                #expect(try await s.get("/health/ready").status == 200)
                try await pg.stop()
                let down = try await eventually(timeout: 30, interval: 0.2) {
                    let (a, b) = (try await w.get("/health/ready").status, try await s.get("/health/ready").status)
                    return a == 503 && b == 503
                }
                #expect(down, "not ready while Postgres is stopped")
                let (wl, sl) = (try await w.get("/health/live").status, try await s.get("/health/live").status)
                #expect(wl == 200 && sl == 200, "still live: the process answers")
                try await pg.startAgain()
                let back = try await eventually(timeout: 60, interval: 0.2) {
                    let (a, b) = (try await w.get("/health/ready").status, try await s.get("/health/ready").status)
                    return a == 200 && b == 200
                }
                #expect(back, "ready again once Postgres is back")
                let e = try Exposition(try await w.get("/metrics").body)
                #expect((e.value("portableq_db_outages_total") ?? 0) >= 1, "the worker counted the outage")
            } catch {
                try? await w.stop()
                try? await s.stop()
                throw error
            }
            try await w.stop()
            try await s.stop()
        }
    }

    @Test(arguments: TestBackend.enabled)
    func aStopWithRunningJobsSaysAtOnceWhatItWaitsFor(_ backend: TestBackend) async throws {
        try await withDB(backend, realClock: true) { db in
            let job = try await db.client.add("sleep", queue: "slow", payload: #"{"ms":4000}"#)
            let p = try CLI.Running(["work", "--database", db.url, "--builtins", "--log-format", "json", "--shutdown-seconds", "20",
                                     "--poll-interval-ms", "50"], env: ["PORTABLEQ_VERBOSE_JOB_LOGS": "on"])
            let started = try await p.waitForLog(#""msg":"job started""#, timeout: 30)
            #expect(started, "\(p.stderr)")
            p.signal(SIGTERM)
            // Said at the signal, not at the deadline: well before the job's 4 s are over.
            let said = try await p.waitForLog("waiting for running jobs", timeout: 3)
            let line = p.stderr.split(separator: "\n").first { $0.contains("waiting for running jobs") }.map(String.init) ?? ""
            #expect(said && line.contains(#""running":"1""#) && line.contains(job.id) && line.contains(#""shutdown_seconds""#),
                    "\(p.stderr)")
            let r = try await p.wait(timeout: 30)
            #expect(r.status == 0, "\(r)")
            let finished = r.stderr.split(separator: "\n").first { $0.contains(#""msg":"job finished""#) }.map(String.init) ?? ""
            let meta = (try? JSON.parse(finished)) ?? .null
            #expect(meta["queue"] == .string("slow") && meta["job_id"] == .string(job.id) && meta["outcome"] == .string("succeeded")
                    && meta["job_type"] == .string("sleep") && meta["attempt"] != nil, "\(finished)")
            #expect((meta["duration_ms"]?.stringValue.flatMap { Int($0) } ?? 0) >= 3000, "\(finished)")
        }
    }
}
